"""The docs a user reads match the code: meltano.yml settings, README settings and streams."""

from __future__ import annotations

from pathlib import Path

import yaml

from tap_retail_reports.tap import VENDORS, TapRetailReports

ROOT = Path(__file__).resolve().parent.parent


def flattened_settings(schema: dict, prefix: str = "") -> dict[str, dict]:
    settings = {}
    for name, prop in schema["properties"].items():
        if prop.get("properties"):
            settings.update(flattened_settings(prop, f"{prefix}{name}."))
        else:
            settings[f"{prefix}{name}"] = prop
    return settings


def test_meltano_settings_match_the_config_schema():
    extractor = yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["extractors"][0]
    meltano = {setting["name"]: setting for setting in extractor["settings"]}
    # The tap's own settings: the SDK adds its built-in ones to config_jsonschema in place.
    schema = flattened_settings(TapRetailReports.OWN_SETTINGS.to_dict())
    assert set(meltano) == set(schema)
    for name, prop in schema.items():
        assert bool(meltano[name].get("sensitive")) == bool(prop.get("secret")), name
        assert "kind" in meltano[name] and meltano[name]["kind"] != "password", name


def test_readme_names_every_active_stream_and_vendor_setting():
    readme = (ROOT / "README.md").read_text()
    config = {
        vendor.key: {key: "x" for keys in vendor.credential_sets for key in keys} | {"store_nums": [1], "store_id": "1"}
        for vendor in VENDORS
    }
    tap = TapRetailReports(config=config, validate_config=False)
    for stream in tap.streams:
        assert f"`{stream}`" in readme, f"README does not describe {stream}"
    for vendor in VENDORS:
        for prop in vendor.settings:
            assert f"{vendor.key}.{prop.name}" in readme, f"README does not mention {vendor.key}.{prop.name}"


def test_readme_settings_reference_is_the_current_about_output():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from sync_about import about_markdown, readme_with_about

    readme = (ROOT / "README.md").read_text()
    assert readme == readme_with_about(readme, about_markdown()), "README is stale: run `make about`"
