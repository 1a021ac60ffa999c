"""The model stages over a corpus: DINOv3 latents, captions, text embeddings."""
