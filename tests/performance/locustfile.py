"""People using eventpost through the gateway: searching the catalogue by topic, place and words,
opening events, and (signed in) saving events and reading their recommendations and reminders.

Each simulated user registers its own account, so runs do not interfere. Loopback only.
"""

import random
import uuid

from locust import HttpUser, between, task

TOPICS = ["jazz", "flamenco", "rock", "rust", "startups", "food", "wine", "art", "cinema"]
PLACES = [(37.18, -3.60), (40.42, -3.70), (41.39, 2.17), (38.72, -9.14), (48.86, 2.35)]
WORDS = ["night", "workshop", "tour", "festival", "meetup"]


class Visitor(HttpUser):
    wait_time = between(0.5, 2)

    def on_start(self):
        email = f"perf-{uuid.uuid4().hex}@example.com"
        credentials = {"email": email, "password": "performance run password"}
        self.client.post("/api/v1/users", json=credentials, name="register")
        tokens = self.client.post("/api/v1/auth/token", json=credentials, name="login").json()
        self.auth = {"Authorization": f"Bearer {tokens.get('access_token', '')}"}
        self.seen = []

    def remember(self, response):
        if response.ok:
            self.seen = [item["id"] for item in response.json().get("items", [])] or self.seen

    @task(5)
    def search_by_topic(self):
        topic = random.choice(TOPICS)
        self.remember(self.client.get(f"/api/v1/events?topic={topic}", name="search by topic"))

    @task(3)
    def search_near(self):
        lat, lon = random.choice(PLACES)
        url = f"/api/v1/events?near={lat},{lon}&radius_km=25&sort=distance"
        self.remember(self.client.get(url, name="search near"))

    @task(2)
    def search_words(self):
        word = random.choice(WORDS)
        self.remember(self.client.get(f"/api/v1/events?q={word}", name="search words"))

    @task(4)
    def open_event(self):
        if self.seen:
            event = random.choice(self.seen)
            self.client.get(f"/api/v1/events/{event}", name="event")

    @task(1)
    def save_event(self):
        if self.seen:
            event = random.choice(self.seen)
            self.client.put(f"/api/v1/events/{event}/saved", headers=self.auth, name="save")

    @task(1)
    def recommended(self):
        self.client.get("/api/v1/events/recommended", headers=self.auth, name="recommended")

    @task(1)
    def my_reminders(self):
        self.client.get("/api/v1/notifications", headers=self.auth, name="my reminders")
