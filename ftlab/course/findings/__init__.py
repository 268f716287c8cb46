"""What each lesson's runs found, as sentences: small tested functions that turn a lesson's measured figures into
the text it shows, so that a notebook cell reads as the machine-learning step and one call of `say(...)`."""
