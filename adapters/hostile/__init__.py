"""The hostile-input room: what a source's file may cost and reach, whatever it declares (issues 58, 67, 75). A layer of
its own above the storage room (imports run schemas <- adapters.storage <- adapters.hostile <- adapters <- ingest <-
training <- jobs): it reads through storage's doors (`adapters.storage.location`) and never asks what kind a storage is.

Sizes a file declares are checked against its real size or a limit (`bounds`: the settings `max_<name>`);
an HDF5 chunk never inflates past its declared size into data (`h5_inflate`); a store stays inside itself (`sealed`,
the HDF5 door `h5`, Zarr read beneath its folder `zarr_beneath`); data that is not there is never read as values
(`absent`); a ref stays under its root, and a file whose parse fails costs that file alone (`isolated`: the one
last-file tracker and the one refuse-and-rerun loop); every parse of a source's bytes runs in a process of its own
under a memory limit the operating system enforces (`sandbox`: the one door, `answer` and `answer_refusing`; its cage
`limits`), and nothing a command started outlives it (`watcher`). Containment of the paths a ref names
(`adapters.storage.location`) and the open beneath a root (`adapters.storage.beneath`) are storage's: they resolve
paths per storage kind.
"""
