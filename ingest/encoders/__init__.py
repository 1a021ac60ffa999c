"""Model code for the GPU stages: DINOv3 latents, Qwen3-VL captions, Wan VAE, caption rules."""
