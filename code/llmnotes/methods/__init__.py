"""What a paper adds that is not a model: masked-LM pre-training, supervised fine-tuning, reward
models, PPO, LoRA, in-context learning."""
