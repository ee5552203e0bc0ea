"""napari plugin (npe2): the 2D bundles as a dock widget, and a writer for their masks.

Declared by ``napari.yaml`` through the ``napari.manifest`` entry point; installed with the
optional extra ``unet3d[napari]``. :mod:`unet3d.napari.layers` turns a layer's data into masks
without Qt, :mod:`unet3d.napari.widget` is the dock widget, :mod:`unet3d.napari.writer` saves a
Labels layer as ``unet3d segment`` writes masks.
"""
