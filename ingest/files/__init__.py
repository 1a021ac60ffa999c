"""Sidecar files beside the datasets: atomic writes, safetensors, latents, text embeddings, LingBot files."""
