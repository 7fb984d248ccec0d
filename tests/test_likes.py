"""Papers a subscriber likes: arXiv ids and links, a pasted list, BibTeX and RIS exports of
real papers (the arXiv feed of 2024-11-28), unknown ids fetched from the arXiv API through
the ingest guards by a task (a local server answering with a recorded arXiv API response),
bounds with clear messages, the preference centre, and add_subscriber --like."""

import datetime as dt
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from digest.ingest.formats import parse
from digest.ingest.records import ParseResult
from digest.ingest.references import MAX_ENTRIES, Reference, ReferenceError, parse_references
from digest.ingest.store import store
from digest.models import Batch, Paper
from subscribers import likes
from subscribers.models import LikeRequest, Reaction, Subscriber
from subscribers.tokens import make_token
from tests.conftest import csrf_post, data_file

FEED = "arxiv_rss_new/aioarxiv_rss_20archives_2024-11-28_full1504items.xml"
DAY = timezone.localdate() - dt.timedelta(days=1)

# As arXiv's "Export BibTeX citation" and Google Scholar write them, for papers of the feed;
# the last one is not in the feed (it is fetched from the arXiv API), the third has no id
# (found by its title), the fourth is a book Paperpost cannot know.
BIBTEX = r"""
@misc{li2024diffusion,
      title={Diffusion Autoencoders for Few-shot Image Generation in Hyperbolic Space},
      author={Lingxiao Li and Kaixuan Fan and Boqing Gong},
      year={2024},
      eprint={2411.17784},
      archivePrefix={arXiv},
      primaryClass={cs.CV},
      url={https://arxiv.org/abs/2411.17784},
}

@article{lu2024gnn,
  title={{GNN} 101: Visual Learning of Graph Neural Networks in Your Web Browser},
  author={Lu, Yilin and Chen, Chongwei and Huang, Kexin},
  journal={arXiv preprint arXiv:2411.17849},
  year={2024}
}

@inproceedings{ozden2024immunization,
  title = {Optimization-Free Image Immunization Against Diffusion-Based Editing},
  author = {Ozden, Tarik Can and Kara, Ozgur and Akcin, Oguzhan},
  booktitle = {Proceedings of a workshop},
  year = {2024}
}

@book{sutton2018reinforcement,
  title={Reinforcement learning: An introduction},
  author={Sutton, Richard S and Barto, Andrew G},
  year={2018},
  publisher={MIT press}
}

@article{diaconis2016heat,
  title={Heat-bath random walks with Markov bases},
  author={Caprice Stanley and Tobias Windisch},
  doi={10.48550/arXiv.1605.08386},
  year={2016}
}
"""

# As Zotero and Mendeley export RIS.
RIS = """TY  - PREP
TI  - Training Data Synthesis with Difficulty Controlled Diffusion Model
AU  - Wang, Zerun
AU  - Mao, Jiafeng
PY  - 2024
UR  - http://arxiv.org/abs/2411.18109v1
ER  -

TY  - JOUR
TI  - GNN 101: Visual Learning of Graph Neural Networks in Your Web Browser
AU  - Lu, Yilin
DO  - 10.48550/arXiv.2411.17849
ER  -
"""


# --- Reading what people give (pure) --------------------------------------------------------------


def test_a_bibtex_export_names_its_papers_by_id_or_title():
    refs = parse_references(BIBTEX)
    assert [r.arxiv_id for r in refs] == ["2411.17784", "2411.17849", "", "", "1605.08386"]
    assert refs[2].title == "Optimization-Free Image Immunization Against Diffusion-Based Editing"
    assert refs[1].title == "GNN 101: Visual Learning of Graph Neural Networks in Your Web Browser"  # braces gone
    assert refs[3].given == "the entry sutton2018reinforcement"


def test_a_ris_export_names_its_papers():
    assert [r.arxiv_id for r in parse_references(RIS)] == ["2411.18109", "2411.17849"]


@pytest.mark.parametrize("text, ids", [
    ("2411.17784", ["2411.17784"]),
    ("2411.17784v2, https://arxiv.org/abs/2411.17849\nhttps://arxiv.org/pdf/2411.18109v1.pdf",
     ["2411.17784", "2411.17849", "2411.18109"]),
    ("arXiv:1605.08386 https://huggingface.co/papers/2411.17784 2411.17784", ["1605.08386", "2411.17784"]),
    ("hep-ex/0601001; https://arxiv.org/abs/astro-ph/0601001v1", ["hep-ex/0601001", "astro-ph/0601001"]),
    ("10.48550/arXiv.2411.17784", ["2411.17784"]),
])
def test_a_pasted_list_of_ids_and_links(text, ids):
    assert [r.arxiv_id for r in parse_references(text)] == ids


@pytest.mark.parametrize("text, message", [
    ("2411.17784, hello", "'hello' is not an arXiv id or link"),
    ("https://evil.example/abs/2411.17784x", "is not an arXiv id or link"),
    ("@article{broken,", "No BibTeX entry could be read"),
    (", ".join(f"2411.{10000 + i}" for i in range(MAX_ENTRIES + 1)), f"at most {MAX_ENTRIES} at a time"),
])
def test_what_cannot_be_read_is_refused_with_a_reason(text, message):
    with pytest.raises(ReferenceError, match=message):
        parse_references(text)


def test_parsing_is_pure():
    assert parse_references("2411.17784\x00") == [Reference("2411.17784", given="2411.17784")]


# --- Liking them ----------------------------------------------------------------------------------


@pytest.fixture
def day(db):
    records = parse(data_file(FEED).read_bytes()).records[:450]
    store(ParseResult(format="arxiv_rss", records=records), date=DAY)
    Batch.objects.get(date=DAY).publish()
    return {p.arxiv_id: p for p in Paper.objects.exclude(arxiv_id="")}


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a call as its own committed transaction: the tasks it queues (in-process) run."""
    def run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)
    return run


@pytest.mark.django_db
def test_known_papers_are_liked_at_once_and_unknown_ones_fetched_from_arxiv(day, arxiv_api, make_subscriber,
                                                                           committed):
    subscriber = make_subscriber(keywords="diffusion")
    outcome = committed(likes.add_liked, subscriber, BIBTEX)
    assert {p.arxiv_id for p in outcome.liked} == {"2411.17784", "2411.17849", "2411.17957"}  # the third by title
    assert outcome.fetching == ["1605.08386"] and outcome.unmatched == ["Reinforcement learning: An introduction"]
    assert "3 papers added" in outcome.message() and "1 being fetched from arXiv" in outcome.message()
    # The task ran (in-process): the arXiv API was asked through the guarded fetch.
    assert arxiv_api.asked == ["1605.08386"]
    request = LikeRequest.objects.get(subscriber=subscriber)
    assert request.status == "done" and request.added == ["1605.08386"] and request.missing == []
    fetched = Paper.objects.get(arxiv_id="1605.08386")
    assert fetched.title == "Heat-bath random walks with Markov bases" and not fetched.entries.exists()
    assert subscriber.liked_papers.count() == 4
    assert set(Reaction.objects.filter(subscriber=subscriber).values_list("kind", flat=True)) == {"liked"}
    # Again: nothing twice.
    again = committed(likes.add_liked, subscriber, "2411.17784, https://arxiv.org/abs/1605.08386v1")
    assert again.already == 2 and not again.liked and not again.fetching


@pytest.mark.django_db
def test_an_id_arxiv_does_not_know_and_a_refused_fetch_are_reported(day, arxiv_api, make_subscriber, committed,
                                                                     settings):
    subscriber = make_subscriber()
    committed(likes.add_liked, subscriber, "0000.0000")
    request = LikeRequest.objects.get(subscriber=subscriber)
    assert request.status == "done" and request.missing == ["0000.0000"] and not subscriber.liked_papers.exists()
    settings.INGEST_ALLOWED_HOSTS = []  # the guards hold: loopback is refused
    committed(likes.add_liked, subscriber, "1605.08386")
    failed = LikeRequest.objects.filter(subscriber=subscriber).first()
    assert failed.status == "failed" and "arXiv could not be asked just now" in failed.error
    assert not Paper.objects.filter(arxiv_id="1605.08386").exists()
    page = Client().get(f"/u/{make_token(subscriber, 'manage')}/").content.decode()
    assert "arXiv has no paper 0000.0000" in page and "failed: arXiv could not be asked just now" in page


@pytest.mark.django_db
def test_bounds_on_size_and_count(day, make_subscriber, settings):
    subscriber = make_subscriber()
    with pytest.raises(likes.LikesRefused, match="at most 200,000"):
        likes.add_liked(subscriber, "2411.17784 " * 20_000)
    with pytest.raises(likes.LikesRefused, match="KB; at most"):
        likes.read_text(b"x" * (likes.MAX_TEXT_CHARS * 2 + 1))
    subscriber.liked_papers.set(Paper.objects.all()[: likes.MAX_LIKED - 1])
    with pytest.raises(likes.LikesRefused, match=f"at most {likes.MAX_LIKED} in all"):
        likes.add_liked(subscriber, "2411.17784, 2411.17849")


@pytest.mark.django_db
def test_the_preference_centre_takes_a_bibtex_file_and_a_pasted_ris_list(day, arxiv_api, make_subscriber, committed):
    subscriber = make_subscriber(keywords="diffusion")
    client = Client(enforce_csrf_checks=True)
    manage = f"/u/{make_token(subscriber, 'manage')}/"
    client.get(manage)
    upload = SimpleUploadedFile("My Library.bib", BIBTEX.encode(), content_type="text/x-bibtex")
    response = committed(csrf_post, client, f"{manage}likes/", {"papers": "", "file": upload})
    assert response.status_code == 302
    page = client.get(manage).content.decode()
    assert "3 papers added to the papers you like" in page and "added 1605.08386" in page
    assert "Heat-bath random walks with Markov bases" in page  # listed among the papers you like
    response = committed(csrf_post, client, f"{manage}likes/", {"papers": RIS})
    assert "1 paper added" in client.get(manage).content.decode()
    assert subscriber.liked_papers.count() == 5
    response = csrf_post(client, f"{manage}likes/", {"papers": "not an id"})
    assert response.status_code == 400 and "is not an arXiv id or link" in response.content.decode()
    response = csrf_post(client, f"{manage}likes/", {"papers": ""})
    assert response.status_code == 400 and "Paste some arXiv ids or links, or choose a file" in response.content.decode()


@pytest.mark.django_db
def test_add_subscriber_with_about_likes_and_strictness(day, arxiv_api):
    out = StringIO()
    call_command("add_subscriber", "new@example.org", "--about", "I work on image generation with diffusion models.",
                 "--like", "2411.17784,https://arxiv.org/abs/2411.17849", "--strictness", "strict", stdout=out)
    subscriber = Subscriber.objects.get(email="new@example.org")
    assert subscriber.about.startswith("I work on image generation") and subscriber.strictness == "strict"
    assert subscriber.liked_papers.count() == 2 and "likes 2 papers" in out.getvalue()
    with pytest.raises(Exception, match="not an arXiv id"):
        call_command("add_subscriber", "other@example.org", "--like", "2411.17784,nonsense")
    assert not Subscriber.objects.filter(email="other@example.org").exists()


@pytest.mark.django_db
def test_import_subscribers_reads_about_like_and_strictness(day, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text('email,about,like,strictness\nann@example.org,"Graph neural networks, mostly.",2411.17849,broad\n')
    call_command("import_subscribers", str(path), stdout=StringIO())
    ann = Subscriber.objects.get(email="ann@example.org")
    assert ann.about == "Graph neural networks, mostly." and ann.strictness == "broad"
    assert list(ann.liked_papers.values_list("arxiv_id", flat=True)) == ["2411.17849"]
