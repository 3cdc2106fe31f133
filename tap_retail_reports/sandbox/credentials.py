"""The sandbox's fixed credentials and a tap config that points at a running sandbox.

These are not secrets: they open nothing but the simulator on loopback. The demo,
the tests and `meltano.yml`'s sandbox environment all use them.
"""

from __future__ import annotations

VROOM_USERNAME = "demo@retailer.example"
VROOM_PASSWORD = "vroom-sandbox-password"
VROOM_SITE_IDS = ("1001", "1002", "1003")

RETREND_ORGANIZATION_ID = "org-sandbox"
RETREND_API_KEY = "rt-sandbox-api-key"
RETREND_STORE_NUMS = (1, 2)

DISTRIBU_API_KEY = "dk_sandbox_reports_read"
DISTRIBU_API_KEY_WITHOUT_SCOPE = "dk_sandbox_no_scope"

FOXYCART_CLIENT_ID = "client_sandbox"
FOXYCART_CLIENT_SECRET = "foxy-sandbox-client-secret"
FOXYCART_REFRESH_TOKEN = "foxy-sandbox-refresh-token"
FOXYCART_STORE_ID = "1234"

FLIPKART_CLIENT_ID = "flipkart-sandbox-client"
FLIPKART_CLIENT_SECRET = "flipkart-sandbox-secret"
FLIPKART_ACCESS_TOKEN = "flipkart-sandbox-partner-token"  # a partner's long-lived token, as Bearer
FLIPKART_REFRESH_TOKEN = "flipkart-sandbox-refresh-token"  # a partner app's, for the refresh grant
FLIPKART_WAREHOUSE_IDS = ("BLR01", "DEL02")


def tap_config(base: str, vendors: tuple[str, ...] = ("vroom", "retrend", "distribu")) -> dict:
    """A config for every simulated vendor in `vendors`, for a sandbox at `base` (http://127.0.0.1:N)."""
    config: dict = {}
    if "vroom" in vendors:
        config["vroom"] = {
            "base_url": f"{base}/vroom/api/retailer/v1",
            "username": VROOM_USERNAME,
            "password": VROOM_PASSWORD,
        }
    if "retrend" in vendors:
        config["retrend"] = {
            "base_url": f"{base}/retrend",
            "organization_id": RETREND_ORGANIZATION_ID,
            "api_key": RETREND_API_KEY,
            "store_nums": list(RETREND_STORE_NUMS),
        }
    if "distribu" in vendors:
        config["distribu"] = {"base_url": f"{base}/distribu", "api_key": DISTRIBU_API_KEY}
    if "foxycart" in vendors:
        config["foxycart"] = {
            "base_url": f"{base}/foxycart",
            "client_id": FOXYCART_CLIENT_ID,
            "client_secret": FOXYCART_CLIENT_SECRET,
            "refresh_token": FOXYCART_REFRESH_TOKEN,
            "store_id": FOXYCART_STORE_ID,
        }
    if "flipkart" in vendors:
        config["flipkart"] = {
            "base_url": f"{base}/flipkart",
            "client_id": FLIPKART_CLIENT_ID,
            "client_secret": FLIPKART_CLIENT_SECRET,
            "warehouse_ids": list(FLIPKART_WAREHOUSE_IDS),
        }
    return config
