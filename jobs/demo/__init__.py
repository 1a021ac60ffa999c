"""`eidata demo`: the multi-source raw corpus and the whole pipeline over it."""
