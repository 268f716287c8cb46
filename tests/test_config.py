import pytest

from ftlab import config
from ftlab.config import LABELS, PROFILES, SPLIT_FRACTIONS, ZERO_SHOT_PROMPTS, get_profile


def test_profiles_grow_from_quick_to_full():
    quick, standard, full = PROFILES["quick"], PROFILES["standard"], PROFILES["full"]
    assert quick.n_train < standard.n_train and full.n_train is None
    assert quick.n_eval < standard.n_eval and full.n_eval is None
    assert quick.epochs <= standard.epochs <= full.epochs


def test_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FTLAB_PROFILE", " Standard ")
    assert get_profile().name == "standard"
    monkeypatch.delenv("FTLAB_PROFILE")
    monkeypatch.setattr(config, "_has_cuda", lambda: False)
    assert get_profile().name == "standard"
    assert get_profile("quick").name == "quick"


def test_a_gpu_picks_the_full_profile_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("FTLAB_PROFILE", raising=False)
    monkeypatch.setattr(config, "_has_cuda", lambda: True)
    assert get_profile().name == "full"
    monkeypatch.setenv("FTLAB_PROFILE", "quick")
    assert get_profile().name == "quick"


def test_unknown_profile_says_which_exist(monkeypatch):
    monkeypatch.setenv("FTLAB_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"unknown profile 'fast'.*quick.*FTLAB_PROFILE"):
        get_profile()


def test_split_fractions_and_prompts_cover_the_labels():
    assert sum(SPLIT_FRACTIONS.values()) == pytest.approx(1.0)
    assert tuple(ZERO_SHOT_PROMPTS) == LABELS
    assert all(len(p) >= 1 for p in ZERO_SHOT_PROMPTS.values())


@pytest.mark.parametrize("value, default, expected", [
    ("1", False, True), ("yes", False, True), (" On ", False, True), ("0", True, False), ("off", True, False),
    ("", True, True), ("", False, False), ("maybe", True, True),
])
def test_env_flag_reads_on_and_off(monkeypatch, value, default, expected):
    monkeypatch.setenv("FTLAB_TEST_FLAG", value)
    assert config.env_flag("FTLAB_TEST_FLAG", default) is expected


def test_env_flag_default_when_unset(monkeypatch):
    monkeypatch.delenv("FTLAB_TEST_FLAG", raising=False)
    assert config.env_flag("FTLAB_TEST_FLAG", True) is True


def test_outside_a_kernel_is_not_a_notebook():
    assert config.in_notebook() is False


def test_the_job_defaults_are_the_quick_profile():
    from ftlab.training.job import JobConfig

    quick, job = config.PROFILES["quick"], JobConfig()
    assert (job.n_train, job.n_eval, job.max_length, job.epochs, job.batch_size, job.learning_rate, job.model) == \
        (quick.n_train, quick.n_eval, quick.max_length, quick.epochs, quick.batch_size, quick.learning_rate,
         quick.model)


def test_seed_lists_start_at_the_seed_and_are_distinct(monkeypatch):
    import importlib

    from ftlab import config

    monkeypatch.setenv("FTLAB_SEED", "7")
    try:
        importlib.reload(config)
        assert config.seeds(3)[0] == 7 and len(set(config.seeds(5))) == 5
        with pytest.raises(ValueError, match="at least one seed"):
            config.seeds(0)
    finally:
        monkeypatch.delenv("FTLAB_SEED")
        importlib.reload(config)
    assert config.seeds(1) == (42,)
