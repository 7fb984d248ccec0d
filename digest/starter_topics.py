"""The starter topics loaded by migration 0002 (editable in the admin afterwards).
Queries are comma-separated terms; see Topic.query for the syntax."""

STARTER_TOPICS = [
    ("LoRA & parameter-efficient fine-tuning", "lora-peft",
     "LoRA, low-rank adaptation, parameter-efficient, PEFT, adapter tuning, adapters, prompt tuning, prefix tuning, low-rank fine-tuning"),
    ("Pruning & model compression", "pruning-compression",
     "pruning, prune, model compression, compressing, compressed model, sparsity, sparse training, quantization, quantized, low-bit, parameter sharing"),
    ("Distillation (knowledge and dataset)", "distillation",
     "knowledge distillation, distillation, distill, teacher model, student model, teacher-student, self-distillation, dataset distillation"),
    ("Machine unlearning", "unlearning",
     "unlearning, unlearn, machine unlearning, forget set, knowledge removal"),
    ("Continual learning", "continual-learning",
     "continual learning, lifelong learning, incremental learning, class-incremental, catastrophic forgetting, exemplar-free"),
    ("Diffusion models", "diffusion-models",
     "diffusion model, diffusion-based, denoising diffusion, score-based, consistency model, DDPM, DDIM, classifier guidance, classifier-free guidance"),
    ("Graph learning", "graph-learning",
     "graph neural network, GNN, graph learning, graph classification, graph contrastive learning, message-passing, node classification, link prediction, graph representation"),
    ("Neural architecture search", "architecture-search",
     "neural architecture search, NAS, architecture search, AutoML, supernet, search space"),
    ("Optimizers & training dynamics", "optimizers",
     "optimizer, Adam, AdamW, SGD, learning rate, large-batch, large batch training, second-order optimization, optimization algorithm, momentum"),
    ("Data selection & curation", "data-selection",
     "data selection, data filtering, data curation, data pruning, sample pruning, coreset, sample reweighting, dataset distillation, data influence, data synthesis"),
    ("Large language models", "llm",
     "large language model, LLM, language model, GPT, instruction tuning, in-context learning"),
    ("Vision-language & multimodal", "vision-language",
     "vision-language, multimodal, multi-modal, VLM, text-to-image, image-text, CLIP, visual question answering"),
    ("Few-shot & meta-learning", "few-shot-meta-learning",
     "few-shot learning, few-shot learner, few-shot classification, few-shot guided, meta-learning, meta-learn, meta-training, learning to learn"),
    ("Efficient training & scaling", "efficient-training",
     "efficient training, training efficiency, efficient pretraining, efficient pre-training, scaling law, model growth, distributed training, GPU cluster, memory efficient, mixed precision, Megatron, large batch training, large-batch optimization"),
    ("Model merging & mixture of experts", "merging-moe",
     "mixture of experts, MoE, model soup, model merging, weight averaging, model averaging, model assembling"),
    ("Generalization & robustness", "generalization",
     "out-of-distribution, domain generalization, distribution shift, generalization gap, generalization error, robustness, domain adaptation, out-of-domain"),
    ("Reinforcement learning", "reinforcement-learning",
     "reinforcement learning, reinforced fine-tuning, RLHF, reward model, policy optimization, imitation learning"),
]


def load_starter_topics(topic_model) -> int:
    """Create the starter topics that are missing; returns how many were created."""
    created = 0
    for position, (name, slug, query) in enumerate(STARTER_TOPICS, start=1):
        _, made = topic_model.objects.get_or_create(
            slug=slug, defaults={"name": name, "query": query, "position": position}
        )
        created += made
    return created
