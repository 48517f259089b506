"""The ``muzhang`` command line: the top floor, above data, features, training, models and serving."""
