import requests


def test_every_provider_answers_the_control_api(sandbox):
    for provider in ("google", "salesforce", "microsoft", "hubspot"):
        resp = requests.get(f"{sandbox.origin(provider)}/_sandbox/clock", timeout=5)
        assert resp.status_code == 200 and resp.json()["now"] > 0
