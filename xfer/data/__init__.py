"""Training sets: frame generators (opls, sm, vs, e0), reference labelling, dataset store, recipes.

A dataset is a directory of extxyz files (one per tag) plus ``manifest.json``; labels live
under explicit keys (``REF_energy``, ``REF_forces``, ``REF_stress``, ``REF_virial``).
"""
