"""The docs a user reads match the code: meltano.yml and meltano-plugin.yml settings, the docs' settings and streams."""

from __future__ import annotations

from pathlib import Path

import yaml

from tap_retail_reports.tap import VENDORS, TapRetailReports
from tests.documents import documents_text

ROOT = Path(__file__).resolve().parent.parent


def flattened_settings(schema: dict, prefix: str = "") -> dict[str, dict]:
    settings = {}
    for name, prop in schema["properties"].items():
        if prop.get("properties"):
            settings.update(flattened_settings(prop, f"{prefix}{name}."))
        else:
            settings[f"{prefix}{name}"] = prop
    return settings


def project_extractor() -> dict:
    return yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["extractors"][0]


def test_meltano_settings_match_the_config_schema():
    meltano = {setting["name"]: setting for setting in project_extractor()["settings"]}
    # The tap's own settings: the SDK adds its built-in ones to config_jsonschema in place.
    schema = flattened_settings(TapRetailReports.OWN_SETTINGS.to_dict())
    assert set(meltano) == set(schema)
    for name, prop in schema.items():
        assert bool(meltano[name].get("sensitive")) == bool(prop.get("secret")), name
        assert "kind" in meltano[name] and meltano[name]["kind"] != "password", name
        assert meltano[name].get("description") == prop.get("description"), name


def test_the_shipped_plugin_definition_is_the_projects():
    """meltano-plugin.yml (what users add with `meltano add --from-ref`) is meltano.yml's extractor, but
    for where it installs from; without `capabilities` Meltano would keep no state and build no catalog."""
    shipped = yaml.safe_load((ROOT / "meltano-plugin.yml").read_text())
    project = project_extractor()
    assert {k: v for k, v in shipped.items() if k != "pip_url"} == {k: v for k, v in project.items() if k != "pip_url"}
    assert project["pip_url"] == "-e ." and shipped["pip_url"] == "-e ../tap-retail-reports"  # the clone, beside the project
    about = TapRetailReports.capabilities
    assert set(shipped["capabilities"]) == {str(capability) for capability in about}


def test_docs_name_every_active_stream_and_vendor_setting():
    readme = documents_text()
    config = {
        vendor.key: {key: "x" for keys in vendor.credential_sets for key in keys} | {"store_nums": [1], "store_id": "1"}
        for vendor in VENDORS
    }
    tap = TapRetailReports(config=config, validate_config=False)
    for stream in tap.streams:
        assert f"`{stream}`" in readme, f"the docs do not describe {stream}"
    for vendor in VENDORS:
        for prop in vendor.settings:
            assert f"{vendor.key}.{prop.name}" in readme, f"the docs do not mention {vendor.key}.{prop.name}"


def test_settings_reference_is_the_current_about_output():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from sync_about import PAGE, about_markdown, page_with_about

    page = PAGE.read_text()
    assert page == page_with_about(page, about_markdown()), f"{PAGE.name} is stale: run `make about`"


def test_the_readme_is_what_a_new_user_needs_first_and_links_the_rest():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 150
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in readme, f"the README does not link docs/{page.name}"
