"""Scoring: fit and behaviour rules, decay, the predictive score, temperature and stage
transitions. Depends on core, contacts, consent, messaging, tracking and capture; apps to its
right (nurture, sales, analytics …) learn of score changes through the domain event bus.

The predictive score is built from pure functions on tabular data (:mod:`.tabular`,
:mod:`.predictive`, :mod:`.metrics`, :mod:`.backtest`) so it can be evaluated on a CSV file
(``leadmill scoring evaluate``) exactly as it is trained on contacts with a known outcome
(:func:`.training.predictive_model_train`)."""
