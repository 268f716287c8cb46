import json

from ftlab import assets, cli


def test_doctor_passes_offline(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cli.main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["problems"] == []
    assert set(report["assets"]) == set(assets.ASSETS) == {"lee", "minilm", "sms-spam", "tiny-gpt2", "tweets"}
    assert report["model_load"]["ok"]
    assert set(report["loads"]) == set(assets.ASSETS) and all(s["ok"] for s in report["loads"].values())
    assert report["smoke"]["ok"] and "training steps" in report["smoke"]["detail"]
    assert report["device"] in {"cpu", "cuda", "mps"}


def test_doctor_reports_an_asset_that_does_not_load_and_a_failing_smoke_run(monkeypatch, capsys):
    def broken():
        raise OSError("the file is truncated")

    monkeypatch.setitem(cli.LOADERS, "lee", broken)
    monkeypatch.setattr(cli, "_smoke_fine_tune", lambda: (False, "the loss was nan"))
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] load lee: OSError: the file is truncated" in out
    assert "[FAIL] fine-tuning smoke run: the loss was nan" in out
    assert "[ok  ] load minilm" in out


def test_doctor_fails_when_an_asset_is_missing(monkeypatch, capsys):
    from ftlab import assets

    real = assets.ASSETS["tweets"]
    monkeypatch.setitem(assets.ASSETS, "tweets", assets.Asset(**{**real.__dict__, "package": "ftlab-no-such-pkg"}))
    assert cli.main(["doctor", "--no-model"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] asset tweets" in out and "cannot run offline" in out


def test_doctor_fails_on_a_bad_profile(monkeypatch, capsys):
    monkeypatch.setenv("FTLAB_PROFILE", "huge")
    assert cli.main(["doctor", "--no-model"]) == 1
    assert "unknown profile 'huge'" in capsys.readouterr().out


def test_doctor_prints_its_report_without_a_progress_bar_for_each_model_it_loads():
    import os
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", "from ftlab.cli import main; raise SystemExit(main(['doctor']))"],
                         capture_output=True, text=True, timeout=300, env=os.environ | {"HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Everything the course needs is here" in run.stdout
    assert "Loading weights" not in run.stderr and "it/s]" not in run.stderr, run.stderr
