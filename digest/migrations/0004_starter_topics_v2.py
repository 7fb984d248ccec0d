"""Starter topics, second version: queries tuned against hand-judged papers (see
tests/test_topic_quality.py). A topic a curator has edited is left alone."""

from django.db import migrations

OLD = {
    "distillation": ("Knowledge distillation",
                     "knowledge distillation, distillation, distill, teacher model, student model, teacher-student"),
    "diffusion-models": ("Diffusion models",
                         "diffusion model, diffusion, denoising diffusion, score-based, consistency model, DDPM, DDIM, classifier guidance, classifier-free guidance"),
    "few-shot-meta-learning": ("Few-shot & meta-learning",
                               "few-shot, meta-learning, meta-learn, meta-training, one-shot, learning to learn"),
    "merging-moe": ("Model merging & mixture of experts",
                    "mixture of experts, MoE, model soups, model merging, weight averaging, model averaging, model assembling"),
    "generalization": ("Generalization & robustness",
                       "out-of-distribution, domain generalization, distribution shift, generalization gap, robustness, robust, domain adaptation"),
    "data-selection": ("Data selection & curation",
                       "data selection, data filtering, data curation, data pruning, coreset, sample reweighting, dataset distillation, data influence, data synthesis"),
    "reinforcement-learning": ("Reinforcement learning",
                               "reinforcement learning, RLHF, reward model, policy optimization, imitation learning"),
    "efficient-training": ("Efficient training & scaling",
                           "efficient training, training efficiency, efficient pretraining, efficient pre-training, scaling law, model growth, distributed training, GPU cluster, memory efficient, mixed precision, Megatron"),
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
    dependencies = [("digest", "0003_source_url")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
