"""ftlab: the helper package of the ftlab course on fine-tuning pretrained models.

Modules, one job each: `config` (profiles, labels, sizes), `assets` (find models and data offline),
`data` (the tweets and your own files), `models` (load, embed, zero-shot), `checks` (exercise self-checks),
`exercises` (makes exercise notebooks from solutions), `cli` (`ftlab doctor`).
"""

__version__ = "0.1.0"
