// Runs once, when the MongoDB volume is first initialised (docker-entrypoint-initdb.d): one user
// per service, allowed only its own database. Passwords come from the environment (.env).
const services = {
  users: process.env.USERS_DB_PASSWORD,
  events: process.env.EVENTS_DB_PASSWORD,
  notifications: process.env.NOTIFICATIONS_DB_PASSWORD,
  email_sender: process.env.EMAIL_SENDER_DB_PASSWORD,
  web: process.env.WEB_DB_PASSWORD,
};
for (const [name, password] of Object.entries(services)) {
  if (!password) {
    throw new Error(`set ${name.toUpperCase()}_DB_PASSWORD in .env`);
  }
  db.getSiblingDB(name).createUser({
    user: name,
    pwd: password,
    roles: [{ role: "readWrite", db: name }],
  });
}
