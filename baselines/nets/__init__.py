"""Network building blocks of the conv learners (hybrid, MAPPO's critic, monolithic): the
paper's conv / SE-residual layers (``layers.py``) and its weight initialisation
(``initialization.py``)."""
