"""Videos: read and write clips (`io`), follow faces from frame to frame (`track`), combine a
person's looks into one age (`persons`), and the session that runs a clip through the photo
pipeline (`session`). The public names are re-exported by `howold`."""
