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
    ("Diffusion models (images & video)", "diffusion-models",
     "diffusion model, diffusion-based, denoising diffusion, latent diffusion, video diffusion, score-based, consistency model, flow matching, DDPM, DDIM, classifier guidance, classifier-free guidance, -diffusion language model, -discrete diffusion"),
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
     "reinforcement learning, reinforced fine-tuning, RLHF, reward model, policy optimization, policy gradient, Q-learning, offline RL, actor-critic, imitation learning"),
    # Added by migration 0007: one word with two senses gets a topic per sense, and the
    # areas the field reads most get their own.
    ("RL for language models", "rl-for-llms",
     "RLHF, reinforcement learning from human feedback, preference optimization, DPO, GRPO, reward model, reward modeling, RLAIF, verifiable rewards, reinforced fine-tuning, RL for reasoning"),
    ("Robot learning & control", "robot-learning",
     "robot learning, robotic manipulation, manipulation policy, dexterous manipulation, locomotion, sim-to-real, visuomotor policy, imitation learning, learned controller, autonomous driving policy"),
    ("Diffusion language models", "diffusion-language-models",
     "diffusion language model, discrete diffusion, masked diffusion language model, text diffusion, diffusion LLM"),
    ("LLM agents", "llm-agents",
     "LLM agents, language model agents, LLM-based agents, agentic, tool use, tool learning, multi-agent LLM, GUI agent, web agent, coding agent, agent memory"),
    ("Efficient inference & serving", "efficient-inference",
     "efficient inference, inference acceleration, post-training quantization, weight quantization, KV cache, speculative decoding, token pruning, token merging, LLM serving, low-bit, inference latency"),
    ("Evaluation & benchmarks", "evaluation-benchmarks",
     "LLM evaluation, evaluation of language models, evaluating LLMs, LLM benchmark, LLM-as-a-judge, data contamination, leaderboard, capability evaluation"),
    ("AI for science", "ai-for-science",
     "AI for science, protein design, protein structure, molecular property prediction, drug discovery, materials discovery, single-cell, genomics, machine-learned potentials, neural operator, physics-informed neural network"),
    ("AI for medicine", "ai-for-medicine",
     "medical imaging, medical image segmentation, clinical, radiology, pathology, whole slide image, surgical video, electronic health records, medical LLM, MRI, CT scans"),
    ("Speech & audio", "speech-audio",
     "speech recognition, ASR, text-to-speech, speech synthesis, speech separation, speech enhancement, spoken language model, audio language model, music generation, audio generation"),
]


def load_starter_topics(topic_model) -> int:
    """Create the starter topics that are missing; returns how many were created."""
    created = 0
    for position, (name, slug, query) in enumerate(STARTER_TOPICS, start=1):
        if topic_model.objects.filter(name=name).exclude(slug=slug).exists():
            continue  # a curator's own topic already has this name
        _, made = topic_model.objects.get_or_create(
            slug=slug, defaults={"name": name, "query": query, "position": position}
        )
        created += made
    return created
