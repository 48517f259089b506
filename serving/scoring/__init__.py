"""Scoring without HTTP: each family's decisions from plain inputs, raising :mod:`serving.errors`.

``serving/routes/`` parse requests and call these; ``muzhang predict`` (:mod:`serving.offline`) calls them
too, through each family's registered ``scorer``. Nothing here imports FastAPI.
"""
