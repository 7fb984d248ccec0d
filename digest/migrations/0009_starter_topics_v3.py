"""Starter topics, third version: "Reinforcement learning" and "Diffusion models" keep their
slugs and their subscribers (general RL; diffusion for images and video, now excluding
diffusion language models), and topics for each sense and for the areas the field reads
most are added (RL for language models, robot learning, diffusion language models, LLM
agents, efficient inference, evaluation, AI for science and medicine, speech and audio).
A topic a curator has edited is left alone."""

from django.db import migrations

OLD = {
    "diffusion-models": ("Diffusion models",
                         "diffusion model, diffusion-based, denoising diffusion, score-based, consistency model, DDPM, DDIM, classifier guidance, classifier-free guidance"),
    "reinforcement-learning": ("Reinforcement learning",
                               "reinforcement learning, reinforced fine-tuning, RLHF, reward model, policy optimization, imitation learning"),
}


def forward(apps, schema_editor):
    from digest.starter_topics import STARTER_TOPICS, load_starter_topics

    Topic = apps.get_model("digest", "Topic")
    current = {slug: (name, query) for name, slug, query in STARTER_TOPICS}
    for slug, (old_name, old_query) in OLD.items():
        Topic.objects.filter(slug=slug, query=old_query).update(query=current[slug][1])
        Topic.objects.filter(slug=slug, name=old_name).update(name=current[slug][0])
    load_starter_topics(Topic)


class Migration(migrations.Migration):
    dependencies = [("digest", "0008_community_signal")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
