"""The HTML report: page, data, plots, keypoint overlays."""
