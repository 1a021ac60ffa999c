"""Array recordings (Zarr replay buffers, robomimic / LIBERO / robosuite / ALOHA HDF5): one adapter, layouts as data."""
