"""One router per resource; app.py mounts each at / and again under /api/."""
