// A person's journey through the web app in Debian's Chromium, with axe-core's checks on every
// page. Run by services/web/tests/web/browser.rs, which starts the platform and passes:
//   SITE_URL      the public gateway
//   SEARCH        a misspelt word that finds EVENT_TITLE
//   EVENT_TITLE   an event's title
//   EMAIL, PASSWORD  an account with a verified address
//   SCREENSHOTS   a directory for the README's screenshots (optional)
//   CHROMIUM      the browser (default /usr/bin/chromium)
// Prints one JSON line: {"steps": [...], "violations": [...]}; exits 1 when a step failed or a
// page has a serious or critical accessibility violation.
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

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
let failed = null;
try {
  // axe is injected as a script, which the pages' policy forbids: the audit bypasses it.
  const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const shots = process.env.SCREENSHOTS;

  await step("a new person registers", async () => {
    await page.goto(`${site}/register`);
    await audit(page, "register");
    await page.getByLabel("Email address").fill(`new-${Date.now()}@example.com`);
    await page.getByLabel("Password (at least 8 characters)").fill("a long enough password");
    await page.getByLabel("Your name (optional)").fill("Ada");
    await page.getByRole("button", { name: "Create my account" }).click();
    await expectText(page, "We mailed you a link to verify your address.");
    await page.getByRole("button", { name: /Sign out/ }).click();
    await page.getByRole("link", { name: "Sign in" }).first().waitFor();
  });

  await step("a person signs in", async () => {
    await page.goto(`${site}/sign-in`);
    await audit(page, "sign in");
    await page.getByLabel("Email address").fill(env("EMAIL"));
    await page.getByLabel("Password").fill(env("PASSWORD"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Reminders" }).waitFor();
  });

  await step("finds an event by a misspelt word", async () => {
    await page.getByLabel("Search").fill(env("SEARCH"));
    await page.getByLabel("Search").press("Enter");
    await page.getByRole("link", { name: env("EVENT_TITLE") }).waitFor();
    await audit(page, "discover");
    if (shots) await page.screenshot({ path: `${shots}/discover.png`, fullPage: true });
  });

  await step("saves it", async () => {
    await page.getByRole("link", { name: env("EVENT_TITLE") }).click();
    await page.getByRole("heading", { level: 1, name: env("EVENT_TITLE") }).waitFor();
    await audit(page, "event");
    if (shots) await page.screenshot({ path: `${shots}/event.png`, fullPage: true });
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expectText(page, "Saved. Find it under Saved.");
  });

  await step("asks to be reminded a day before", async () => {
    await page.getByLabel("1 day before").check();
    await page.getByRole("button", { name: "Remind me" }).click();
    await expectText(page, "We will remind you on");
  });

  await step("finds it among the saved and the reminders", async () => {
    await page.getByRole("link", { name: "Saved", exact: true }).click();
    await page.getByRole("link", { name: env("EVENT_TITLE") }).waitFor();
    await audit(page, "saved");
    await page.getByRole("link", { name: "Reminders", exact: true }).click();
    await expectText(page, "scheduled");
    await audit(page, "reminders");
  });

  await step("opens their account", async () => {
    await page.getByRole("link", { name: "Account", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "My account" }).waitFor();
    await audit(page, "account");
  });

  await step("reads well on a phone", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ["/", "/reminders", "/account"]) {
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
  failed = `${steps.length} steps done, then: ${error.message}`;
} finally {
  await browser.close();
}

console.log(JSON.stringify({ steps, violations, failed }));
const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
process.exit(failed || serious.length > 0 ? 1 : 0);
