"""Per-episode conversion for the LingBot-VA export."""
