// The Trellis console in a real headless Chromium, driven by
// playwright-core. Run by tests/e2e/console.rs, which starts the server,
// loads the demo and passes BASE_URL, CHROMIUM, SCREENSHOTS and
// OTHER_TENANT_TOKEN. Steps build on each other (one server, one story).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL;
const shots = process.env.SCREENSHOTS;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const origin = new URL(base).origin;

let browser;
let clinician; // the clinician's browser context (cookies shared by its pages)
let page;
const foreignRequests = [];

function watch(context) {
  context.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:')) foreignRequests.push(url);
  });
}

async function signIn(context, label) {
  const p = await context.newPage();
  await p.goto(`${base}/console`);
  assert.equal(new URL(p.url()).pathname, '/console/sign-in', 'signed-out visitors go to sign-in');
  await p.getByLabel(label).check();
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.waitForURL(`${base}/console`);
  return p;
}

async function circles(p, chart) {
  return p.locator(`#chart-${chart} svg circle`).count();
}

async function openPlan(p, title) {
  await p.goto(`${base}/console`);
  await p.getByRole('link', { name: title }).first().click();
  await p.waitForSelector('h1');
}

// Opens a questionnaire's <details> (the browser may have opened it
// already, following a link to the form inside).
async function openQuestionnaire(p, label) {
  const details = p.locator('details.questionnaire', { has: p.locator('summary', { hasText: label }) });
  if (!(await details.evaluate((d) => d.open))) await details.locator('summary').click();
}

// The focused element as "id|text", to check where the keyboard is.
async function focused(p) {
  return p.evaluate(() => {
    const el = document.activeElement;
    return `${el?.id ?? ''}|${(el?.innerText ?? '').trim()}`;
  });
}

// Presses Tab, and nothing else, until the focused element matches
// `pattern`: proof the control is reachable from the keyboard.
async function tabTo(p, pattern, limit = 400) {
  for (let i = 0; i < limit; i += 1) {
    await p.keyboard.press('Tab');
    if (pattern.test(await focused(p))) return;
  }
  assert.fail(`nothing matching ${pattern} is reachable with Tab`);
}

async function axeViolations(p) {
  await p.evaluate(axeSource);
  const result = await p.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.length} nodes, e.g. ${v.nodes[0]?.target}`);
}

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox'] });
  clinician = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  watch(clinician);
});

after(async () => {
  await browser?.close();
});

test('a clinician signs in and sees the caseload', async () => {
  page = await signIn(clinician, 'Dr. Rivera, clinician');
  await page.getByRole('heading', { name: 'Home' }).waitFor();
  const caseload = page.locator('section[aria-labelledby=caseload-heading] tbody tr');
  assert.equal(await caseload.count(), 2);
  assert.match(await caseload.allInnerTexts().then((t) => t.join('\n')), /Emma Lee[\s\S]*Doug McGee/);
  const csp = (await page.request.get(`${base}/console`)).headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
});

test("Emma Lee's plan shows every section and a non-empty PSWQ chart with its table", async () => {
  await openPlan(page, 'Generalized Anxiety Disorder (GAD) - Emma Lee, 27');
  const headings = await page.locator('h2').allInnerTexts();
  const order = ['Client information and diagnosis', 'Presenting problem', 'Treatment goals',
    'Treatment interventions', 'Expected duration of treatment', 'Progress monitoring',
    'Plan for crisis management', 'Review and adjustments'];
  const positions = order.map((h) => headings.indexOf(h));
  assert.ok(positions.every((p) => p >= 0), `sections: ${headings}`);
  assert.deepEqual([...positions].sort((a, b) => a - b), positions, 'in the article\'s order');
  assert.ok((await circles(page, 'pswq')) >= 1, 'the PSWQ chart has scores');
  assert.ok(await page.locator('#chart-pswq svg rect.band-high').count(), 'bands are shaded');
  assert.ok(await page.locator('#chart-pswq svg line.target').count(), 'the target is drawn');
  assert.ok(await page.getByRole('table', { name: 'Scores' }).isVisible(), 'a table beside the chart');
  await page.screenshot({ path: `${shots}/console-plan.png`, fullPage: false });
  await page.locator('#measures').screenshot({ path: `${shots}/console-measures.png` });
});

test('a score recorded through the form (keyboard only) appears on the chart', async () => {
  const before = await circles(page, 'pswq');
  await page.locator('summary', { hasText: 'Record a PSWQ' }).press('Enter');
  const total = page.getByLabel('Or the total only (16–80)');
  await total.focus();
  await page.keyboard.type('48');
  await page.keyboard.press('Enter');
  await page.waitForURL(/saved=1/);
  assert.equal(await circles(page, 'pswq'), before + 1);
  assert.ok(await page.getByRole('status').filter({ hasText: 'Saved.' }).isVisible());
});

test("a refused score shows the API's rule beside the form and writes nothing", async () => {
  const before = await circles(page, 'pswq');
  await openQuestionnaire(page, 'Record a PSWQ');
  await page.getByLabel('Or the total only (16–80)').fill('95');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/measures')),
    page.getByRole('button', { name: 'Record PSWQ' }).click(),
  ]);
  assert.equal(response.status(), 422);
  const alert = page.locator('#measures [role=alert]');
  assert.match(await alert.innerText(), /total: must be between 16 and 80/);
  assert.doesNotMatch(await alert.innerText(), /95/, 'the refusal never echoes the value');
  assert.equal(await page.getByLabel('Or the total only (16–80)').inputValue(), '95', 'kept to correct');
  await page.reload();
  assert.equal(await circles(page, 'pswq'), before);
});

test('a PHQ-9 safety flag appears on the home page live, without a reload', async () => {
  const home = await clinician.newPage();
  await home.goto(`${base}/console`);
  await home.evaluate(() => { globalThis.notReloaded = true; });
  assert.match(await home.locator('#open-flags').innerText(), /No open safety flags/);
  // The live section connects on load; give it a moment to subscribe.
  await home.waitForTimeout(1000);

  const form = await clinician.newPage();
  await openPlan(form, 'Major Depressive Disorder, Single Episode, Moderate - Doug McGee, 67');
  await openQuestionnaire(form, 'Record a PHQ-9');
  const phq9 = form.locator('#record-phq9');
  for (let item = 1; item <= 9; item += 1) {
    // Item 9 (thoughts of being better off dead) above zero raises the flag.
    const answer = item === 9 ? 1 : 2;
    await phq9.locator(`input[name=item${item}][value="${answer}"]`).check();
  }
  await phq9.getByRole('button', { name: 'Record PHQ-9' }).click();
  await form.waitForURL(/saved=1/);

  await home.locator('#open-flags .flag').first().waitFor({ timeout: 10000 });
  assert.match(await home.locator('#open-flags').innerText(), /Safety flag[\s\S]*Doug McGee/);
  assert.equal(await home.evaluate(() => globalThis.notReloaded), true);
  await home.screenshot({ path: `${shots}/console-home.png` });
  await home.close();
  await form.close();
});

test('the forms work from the keyboard alone', async () => {
  await openPlan(page, 'Major Depressive Disorder, Single Episode, Moderate - Doug McGee, 67');
  // Acknowledge the open flag: type the note, Enter sends the form.
  const flag = page.locator('section.urgent').first();
  await flag.getByLabel('What was done (optional)').focus();
  await page.keyboard.type('Called the client; safety plan reviewed');
  await page.keyboard.press('Enter');
  await page.waitForURL(/saved=1/);
  assert.equal(await page.locator('section.urgent').count(), 0, 'no open flag left');
  assert.match(await page.locator('section[aria-labelledby=flags-heading]').innerText(), /acknowledged/);

  // Progress on an objective: the note first, then the value (the date
  // comes filled in with today), Enter sends it.
  await openPlan(page, 'Major Depressive Disorder, Single Episode, Moderate - Doug McGee, 67');
  const objective = () => page.locator('li', { hasText: 'engage in a social activity outside the house' });
  await objective().getByLabel('Note').focus();
  await page.keyboard.type('Joined a woodworking group');
  await objective().getByLabel(/^Value/).focus();
  await page.keyboard.type('1');
  await page.keyboard.press('Enter');
  await page.waitForURL(/saved=1/);
  assert.match(await objective().locator('table').innerText(), /\t1\tJoined a woodworking group/);
});

test('a clinician holds a review from the keyboard alone', async () => {
  await openPlan(page, 'Generalized Anxiety Disorder (GAD) - Emma Lee, 27');
  await tabTo(page, /^review-held\|/);
  // On through the date's parts and the participants, Tab only.
  await tabTo(page, /^review-summary\|/, 6);
  await page.keyboard.type('Worry down; revising the exposure steps.');
  await page.keyboard.press('Tab');
  assert.match(await focused(page), /^review-decision\|/);
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.getByLabel('Decision').inputValue(), 'REVISE', 'chosen with an arrow key');
  await page.keyboard.press('Tab');
  assert.match(await focused(page), /\|Hold review$/);
  await page.keyboard.press('Enter');
  await page.waitForURL(/saved=1/);
  const reviews = await page.locator('section[aria-labelledby=reviews-heading] tbody').innerText();
  assert.match(reviews, /Worry down; revising the exposure steps\./);
  assert.match(reviews, /revise/);
});

test('the clinician and then the client sign the new version', async () => {
  await openPlan(page, 'Generalized Anxiety Disorder (GAD) - Emma Lee, 27');
  assert.match(await page.locator('#sign').innerText(), /still needs: clinician, client/);
  // Keyboard alone: Tab reaches the button, Enter signs.
  await tabTo(page, /\|Sign version \d+ as clinician$/);
  await page.keyboard.press('Enter');
  await page.waitForURL(/saved=1/);
  assert.match(await page.locator('#sign').innerText(), /still needs: client\./);
  assert.match(await page.locator('#sign tbody').innerText(), /clinician\s+Ana Rivera \(dr-rivera\), PsyD, LP/,
    'signers named from the staff directory');
  assert.equal(await page.getByRole('button', { name: /as clinician/ }).count(), 0);

  const emma = await browser.newContext();
  watch(emma);
  const client = await signIn(emma, 'Emma Lee, client');
  const plans = client.locator('section[aria-labelledby=caseload-heading] tbody tr');
  assert.equal(await plans.count(), 1, 'a client sees their own plan only');
  await client.getByRole('link', { name: /Emma Lee/ }).click();
  await client.waitForSelector('h1');
  await tabTo(client, /\|Sign version \d+ as client$/);
  await client.keyboard.press('Enter');
  await client.waitForURL(/saved=1/);
  assert.match(await client.locator('#sign').innerText(), /is fully signed/);
  await emma.close();
});

test('a supervisor sees the clinic by clinician, outcomes, and co-signs from the queue', async () => {
  const okafor = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  watch(okafor);
  const supervisor = await signIn(okafor, 'Dr. Okafor, clinical supervisor');
  await supervisor.getByRole('link', { name: 'Supervision' }).click();
  const byClinician = await supervisor.locator('section[aria-labelledby=caseload-heading] tbody').innerText();
  assert.match(byClinician, /dr-rivera\s+2\s/, 'both demo plans under Dr. Rivera');
  assert.equal(await supervisor.locator('svg.rates rect.bar').count(), 3);
  assert.ok(await supervisor.getByRole('table', { name: 'Outcome rates', exact: true }).isVisible());
  assert.equal(await supervisor.locator('svg.trend polyline').count(), 3, 'three rates over time');
  const months = supervisor.getByRole('table', { name: 'Outcome rates by month' }).locator('tbody tr');
  assert.equal(await months.count(), 12);
  const queue = supervisor.locator('section[aria-labelledby=cosign-heading]');
  await queue.getByRole('link', { name: /Emma Lee/ }).click();
  await supervisor.getByRole('button', { name: /as supervisor/ }).click();
  await supervisor.waitForURL(/saved=1/);
  assert.match(await supervisor.locator('#sign tbody').innerText(), /supervisor\s+Chidi Okafor \(dr-okafor\), PhD, LCSW/);
  await supervisor.getByRole('link', { name: 'Supervision' }).click();
  assert.doesNotMatch(await queue.innerText(), /Emma Lee/);
  assert.deepEqual(await axeViolations(supervisor), [], 'supervision page');
  await okafor.close();
});

test("a client cannot open another client's plan", async () => {
  const doug = await browser.newContext();
  watch(doug);
  const client = await signIn(doug, 'Doug McGee, client');
  const emmaUrl = await page.url().split('?')[0];
  const response = await client.goto(emmaUrl);
  assert.equal(response.status(), 404);
  assert.match(await client.locator('main').innerText(), /no such plan, or not one you may see/);
  await doug.close();
});

test("another clinic network's user sees nothing of this one", async () => {
  const other = await browser.newContext();
  watch(other);
  await other.addCookies([{ name: 'trellis_console', value: process.env.OTHER_TENANT_TOKEN,
    url: `${base}/console`, httpOnly: true, secure: true, sameSite: 'Strict' }]);
  const stranger = await other.newPage();
  await stranger.goto(`${base}/console`);
  assert.match(await stranger.locator('main').innerText(), /No plans you may see/);
  const response = await stranger.goto(page.url().split('?')[0]);
  assert.equal(response.status(), 404);
  await other.close();
});

test('a form from another site is refused', async () => {
  const planUrl = page.url().split('?')[0].split('#')[0];
  const response = await page.request.post(`${planUrl}/measures`, {
    form: { csrf: 'not-this-sessions', command_id: crypto.randomUUID(), instrument: 'PSWQ',
      administered_on: '2026-01-01', total: '40' },
  });
  assert.equal(response.status(), 403);
  assert.match(await response.text(), /not from this session/);
});

test('the pages pass axe-core accessibility checks', async () => {
  await openPlan(page, 'Generalized Anxiety Disorder (GAD) - Emma Lee, 27');
  assert.deepEqual(await axeViolations(page), [], 'plan page');
  await page.goto(`${base}/console`);
  assert.deepEqual(await axeViolations(page), [], 'home page');
});

test("an auditor reads the timeline, the plan as of a version, a diff and the access log", async () => {
  const audit = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  watch(audit);
  const auditor = await signIn(audit, 'Compliance auditor');
  await auditor.getByRole('link', { name: 'Audit', exact: true }).click();
  assert.match(await auditor.getByRole('status').innerText(), /^Verified: \d+ events in \d+ streams/);
  const emmaRow = auditor.locator('tr', { hasText: 'Emma Lee' });
  await emmaRow.getByRole('link', { name: 'Timeline' }).click();
  const rows = auditor.locator('table.timeline tbody tr');
  assert.ok((await rows.count()) > 20, 'the whole history');
  assert.match(await rows.first().innerText(), /PlanCreated[\s\S]*dr-rivera[\s\S]*command[\s\S]*correlation/);
  await auditor.screenshot({ path: `${shots}/console-timeline.png` });

  await auditor.getByLabel('Event type').fill('GoalAdded');
  await auditor.getByRole('button', { name: 'Filter' }).click();
  const goals = await rows.allInnerTexts();
  assert.ok(goals.length >= 2 && goals.every((r) => r.includes('GoalAdded')), goals.join('\n'));

  const exported = await auditor.request.get(
    await auditor.getByRole('link', { name: /Export these events/ }).getAttribute('href').then((h) => `${base}${h}`));
  const lines = (await exported.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, goals.length);
  assert.ok(lines.every((e) => e.eventType === 'GoalAdded'));

  // The goal the test added: its changes, and the plan before and after.
  const added = rows.last();
  await added.getByRole('link', { name: 'changes' }).click();
  assert.match(await auditor.locator('table.diff ins').allInnerTexts().then((t) => t.join(' ')), /Return to weekly choir practice/);
  await auditor.getByRole('link', { name: /the plan at version/ }).click();
  assert.match(await auditor.getByRole('note').innerText(), /As it stood at version \d+/);
  assert.match(await auditor.locator('main').innerText(), /Return to weekly choir practice/);
  assert.equal(await auditor.locator('main form[method=post]').count(), 0, 'no forms on the past');
  const previous = auditor.url().replace(/version=(\d+)/, (_, v) => `version=${Number(v) - 1}`);
  await auditor.goto(previous);
  assert.doesNotMatch(await auditor.locator('main').innerText(), /Return to weekly choir practice/);

  await auditor.goBack();
  await auditor.goBack();
  await auditor.goBack();
  await auditor.getByLabel('The plan as it stood at (UTC)').fill('2099-01-01T00:00:00');
  await auditor.getByRole('button', { name: 'Show' }).click();
  assert.match(await auditor.getByRole('note').innerText(), /As it stood at 2099-01-01T00:00:00Z \(version \d+\)/);

  await auditor.getByRole('link', { name: 'Who read it' }).click();
  const reads = await auditor.locator('tbody').innerText();
  assert.match(reads, /dr-rivera[\s\S]*graphql:plan[\s\S]*console/);
  assert.deepEqual(await axeViolations(auditor), [], 'access log page');
  await audit.close();
});

test('signing out ends the session', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/signed-out=1/);
  assert.ok(await page.getByText('You are signed out.').isVisible());
  await page.goto(`${base}/console`);
  assert.equal(new URL(page.url()).pathname, '/console/sign-in');
});

test('no request left the origin', () => {
  assert.deepEqual(foreignRequests, []);
});
