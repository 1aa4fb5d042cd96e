"""Building blocks that several models share: attention and masks, positions, norms,
feed-forward layers and the key/value cache."""
