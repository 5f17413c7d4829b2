// People's journeys through the web app in Debian's Chromium, with axe-core's checks on every
// page. Run by services/web/tests/web/browser.rs, which starts the platform (its mail going to
// Mailpit) and passes:
//   SITE_URL      the public gateway
//   PUBLIC_URL    where the mails say the site is (their links are followed on SITE_URL)
//   MAILPIT_URL   Mailpit's API, where the mails are read
//   SEARCH        a misspelt word that finds EVENT_TITLE
//   EVENT_TITLE   an event's title
//   ADMIN_EMAIL, ADMIN_PASSWORD  an administrator's account
//   SCREENSHOTS   a directory for the README's screenshots (optional)
//   CHROMIUM      the browser (default /usr/bin/chromium)
// Prints one JSON line: {"steps": [...], "violations": [...], "failed": ...}; exits 1 when a
// step failed or a page has a serious or critical accessibility violation.
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const site = env("SITE_URL").replace(/\/$/, "");
const publicUrl = env("PUBLIC_URL").replace(/\/$/, "");
const mailpit = env("MAILPIT_URL").replace(/\/$/, "");
const title = env("EVENT_TITLE");
const steps = [];
const violations = [];

async function audit(page, name) {
  await page.addScriptTag({ path: AXE });
  const results = await page.evaluate(() => globalThis.axe.run());
  for (const violation of results.violations) {
    violations.push({
      page: name,
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => node.target.join(" ")),
    });
  }
}

async function step(name, work) {
  await work();
  steps.push(name);
}

async function expectText(page, text) {
  await page.getByText(text, { exact: false }).first().waitFor({ timeout: 10000 });
}

/// The first mail to `to` whose subject holds `subject`, as Mailpit has it, within `seconds`.
async function mailTo(to, subject, seconds) {
  const deadline = Date.now() + seconds * 1000;
  const query = new URLSearchParams({ query: `to:"${to}"` });
  while (Date.now() < deadline) {
    const found = await (await fetch(`${mailpit}/api/v1/search?${query}`)).json();
    const summary = found.messages.find((message) => message.Subject.includes(subject));
    if (summary) return (await fetch(`${mailpit}/api/v1/message/${summary.ID}`)).json();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no mail "${subject}" to ${to} within ${seconds} s`);
}

/// The link in `mail`'s text on the line that holds `label`, moved from the public address to
/// the site under test.
function linkIn(mail, label) {
  const line = mail.Text.split("\n").find((text) => text.includes(label) && text.includes(publicUrl));
  if (!line) throw new Error(`no "${label}" link in: ${mail.Text}`);
  const link = line.slice(line.indexOf(publicUrl)).trim().split(/\s/)[0];
  return site + link.slice(publicUrl.length);
}

async function signIn(page, email, password) {
  await page.goto(`${site}/sign-in`);
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Reminders" }).waitFor();
}

async function signOut(page) {
  await page.getByRole("button", { name: /Sign out/ }).click();
  await page.getByRole("link", { name: "Sign in" }).first().waitFor();
}

/// `at` as a `datetime-local` value in UTC, the new account's zone.
const utcInput = (at) => at.toISOString().slice(0, 19);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
let failed = null;
let page;
try {
  // axe is injected as a script, which the pages' policy forbids: the audit bypasses it.
  const context = await browser.newContext({
    bypassCSP: true,
    timezoneId: "UTC",
    viewport: { width: 1280, height: 900 },
  });
  page = await context.newPage();
  const shots = process.env.SCREENSHOTS;
  const email = `new-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  let password = "a long enough password";

  await step("a visitor reads an event's start on their own clock", async () => {
    await page.goto(`${site}/?q=${encodeURIComponent(env("SEARCH"))}`);
    await page.getByRole("link", { name: title }).click();
    await page.getByRole("heading", { level: 1, name: title }).waitFor();
    await expectText(page, "on your clock (UTC)");
  });

  await step("a new person registers", async () => {
    await page.goto(`${site}/register`);
    await audit(page, "register");
    await page.getByLabel("Email address").fill(email);
    await page.getByLabel("Password (at least 8 characters)").fill(password);
    await page.getByLabel("Your name (optional)").fill("Ada");
    await page.getByRole("button", { name: "Create my account" }).click();
    await expectText(page, "We mailed you a link to verify your address.");
  });

  await step("verifies the address from the link in the mail", async () => {
    const mail = await mailTo(email, "Confirm your email address", 20);
    await page.goto(linkIn(mail, "/verify?token="));
    await audit(page, "verify");
    await page.getByRole("button", { name: "Confirm" }).click();
    await expectText(page, "Address confirmed");
    await page.goto(`${site}/account`);
    await page.getByRole("heading", { level: 1, name: "My account" }).waitFor();
    if (await page.getByText("not verified yet").count()) throw new Error("the address is not verified");
    await audit(page, "account");
  });

  await step("finds an event by a misspelt word", async () => {
    await page.goto(site);
    await page.getByLabel("Search").fill(env("SEARCH"));
    await page.getByLabel("Search").press("Enter");
    await page.getByRole("link", { name: title }).waitFor();
    await audit(page, "discover");
    if (shots) await page.screenshot({ path: `${shots}/discover.png`, fullPage: true });
  });

  await step("saves it", async () => {
    await page.getByRole("link", { name: title }).click();
    await page.getByRole("heading", { level: 1, name: title }).waitFor();
    await audit(page, "event");
    if (shots) await page.screenshot({ path: `${shots}/event.png`, fullPage: true });
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expectText(page, "Saved. Find it under Saved.");
    await page.getByRole("link", { name: "Saved", exact: true }).click();
    await page.getByRole("link", { name: title }).waitFor();
    await audit(page, "saved");
  });

  let due;
  await step("sets a reminder due in a few seconds", async () => {
    await page.getByRole("link", { name: title }).click();
    due = new Date(Date.now() + 8000);
    await page.getByLabel("At", { exact: true }).check();
    await page.getByLabel("Date and time, my time").fill(utcInput(due));
    await page.getByRole("button", { name: "Remind me" }).click();
    await expectText(page, "We will remind you on");
  });

  let reminder;
  await step("receives it", async () => {
    reminder = await mailTo(email, title, 60);
    const late = new Date(reminder.Date) - due;
    if (late > 30000) throw new Error(`the reminder came ${late} ms after its time`);
  });

  await step("snoozes it from the mail's link", async () => {
    await page.goto(linkIn(reminder, "in an hour"));
    await audit(page, "snooze from the mail");
    await page.getByRole("button", { name: "Remind me in an hour" }).click();
    await page.getByRole("heading", { level: 1 }).waitFor();
  });

  await step("sees the new time on the reminders page", async () => {
    await page.goto(`${site}/reminders`);
    await expectText(page, "scheduled");
    const sendAt = new Date(await page.locator("ul.events time").first().getAttribute("datetime"));
    const fromNow = (sendAt - Date.now()) / 60000;
    if (fromNow < 55 || fromNow > 61) throw new Error(`the reminder goes in ${fromNow} minutes, not an hour`);
    await audit(page, "reminders");
  });

  await step("resets a forgotten password from the mail", async () => {
    await signOut(page);
    await page.goto(`${site}/sign-in`);
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await audit(page, "forgot password");
    await page.getByLabel("Email address").fill(email);
    await page.getByRole("button", { name: /mail/i }).click();
    await expectText(page, "Check your mail");
    const mail = await mailTo(email, "Reset your eventpost password", 20);
    await page.goto(linkIn(mail, "/reset-password?token="));
    await audit(page, "reset password");
    password = "a brand new password";
    await page.getByLabel("New password (at least 8 characters)").fill(password);
    await page.getByRole("button", { name: "Save my new password" }).click();
    await expectText(page, "Your password is changed");
    await signIn(page, email, password);
    await signOut(page);
  });

  await step("an administrator creates an event", async () => {
    await signIn(page, env("ADMIN_EMAIL"), env("ADMIN_PASSWORD"));
    await page.getByRole("link", { name: "New event", exact: true }).click();
    await audit(page, "new event");
    await page.getByLabel("Title").fill("Choir evening");
    await page.getByLabel("Description").fill("Sing along.");
    await page.getByLabel("Starts (on the event's clock)").fill(utcInput(new Date(Date.now() + 7 * 86400000)).slice(0, 16));
    await page.getByLabel("The event's time zone").selectOption("Europe/Berlin");
    await page.getByLabel("Place", { exact: true }).fill("St. Marien");
    await page.getByRole("button", { name: "Create the event" }).click();
    await expectText(page, "Event created.");
    await page.getByRole("heading", { level: 1, name: "Choir evening" }).waitFor();
  });

  await step("edits it, meets a conflict and resolves it", async () => {
    await page.getByRole("link", { name: "Edit the event" }).click();
    await audit(page, "edit event");
    const other = await context.newPage();
    await other.goto(page.url());
    await other.getByLabel("Title").fill("Choir evening, moved to the crypt");
    await other.getByRole("button", { name: "Save the event" }).click();
    await expectText(other, "Event saved.");
    await other.close();

    await page.getByLabel("Description").fill("Sing along; scores provided.");
    await page.getByRole("button", { name: "Save the event" }).click();
    await expectText(page, "Someone changed this event since you opened it");
    await page.getByRole("complementary").getByText("Choir evening, moved to the crypt").waitFor();
    await audit(page, "edit conflict");
    await page.getByLabel("Title").fill("Choir evening, in the crypt");
    await page.getByRole("button", { name: "Save the event" }).click();
    await expectText(page, "Event saved.");
    await page.getByRole("heading", { level: 1, name: "Choir evening, in the crypt" }).waitFor();
    await expectText(page, "scores provided");
  });

  await step("reads well on a phone", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ["/", "/reminders", "/account", "/events/new"]) {
      await page.goto(`${site}${path}`);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      if (overflow > 0) {
        const widest = await page.evaluate(() => {
          const width = document.documentElement.clientWidth;
          const culprit = [...document.querySelectorAll("body *")]
            .filter((element) => element.getBoundingClientRect().right > width)
            .pop();
          return culprit ? culprit.outerHTML.slice(0, 160) : "?";
        });
        throw new Error(`${path} scrolls sideways by ${overflow}px at 390px: ${widest}`);
      }
    }
  });
} catch (error) {
  const where = page ? `${page.url()}: ${(await page.content().catch(() => "")).slice(0, 2000)}` : "";
  failed = `${steps.length} steps done, then: ${error.message} at ${where}`;
} finally {
  await browser.close();
}

console.log(JSON.stringify({ steps, violations, failed }));
const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
process.exit(failed || serious.length > 0 ? 1 : 0);
