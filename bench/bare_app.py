"""The baseline: a bare Flask endpoint answering 200, served like the receiver."""
from flask import Flask

app = Flask(__name__)


@app.post("/webhooks/google/calendar")
def receive():
    return "", 200
