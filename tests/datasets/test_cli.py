"""`harness data import|verify|list` through the real CLI entry point."""

from __future__ import annotations

from harness.cli import main


def test_import_then_verify_then_list(empty_cache, mnist_copy, capsys):
    assert main(["data", "import", "mnist", str(mnist_copy)]) == 0
    assert f"mnist: imported and verified -> {empty_cache / 'mnist'}" in capsys.readouterr().out
    assert main(["data", "verify"]) == 0
    assert capsys.readouterr().out.strip() == "mnist: ok"
    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "mnist" in listing and "verified" in listing and "cifar10" in listing and "missing" in listing


def test_errors_have_exit_codes_and_say_what_to_do(empty_cache, tmp_path, capsys):
    assert main(["data", "import", "mnist", str(tmp_path / "absent")]) == 3
    assert "does not exist" in capsys.readouterr().err
    assert main(["data", "import", "imagenet", str(tmp_path)]) == 2
    assert "known datasets: cifar10, mnist" in capsys.readouterr().err
    assert main(["data", "verify", "mnist"]) == 1
    assert "harness data import mnist PATH" in capsys.readouterr().err
    assert main(["data", "verify"]) == 1
    assert "no dataset in the cache" in capsys.readouterr().out
