// Loads generated status pages from disk in headless Chromium at a desktop and a phone width
// and checks what a reader would notice: the page scrolls sideways, text sticks out of its box,
// a chart has no accessible name, the console shows an error, a request leaves the page, or
// axe-core finds a serious or critical accessibility violation. Writes a full-page screenshot of
// each page at each width into the folder given, and the outline of each page's structure
// (`<page>.outline.txt`: tag and classes per element, as the browser parsed it).
//
// node tests/site/check.mjs SCREENSHOT_DIR PAGE.html...
// Environment: CHROMIUM (default /usr/bin/chromium), DR_NODE_MODULES (default .tools/node,
// where scripts/setup-tools.sh installs puppeteer-core and axe-core).
// Prints one JSON line per page and width; exits 1 when any check failed.

import { createRequire } from "node:module";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const here = new URL("../..", import.meta.url).pathname;
const modules = resolve(process.env.DR_NODE_MODULES || resolve(here, ".tools/node"));
const require = createRequire(resolve(modules, "package.json"));
const puppeteer = require("puppeteer-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const [shots, ...pages] = process.argv.slice(2);
if (!shots || pages.length === 0) {
  console.error("usage: check.mjs SCREENSHOT_DIR PAGE.html...");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const widths = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
];

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // Root in a container: Chromium's sandbox needs user namespaces it may not have.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});

let failed = false;
try {
  for (const file of pages) {
    const url = pathToFileURL(resolve(file)).href;
    for (const view of widths) {
      const page = await browser.newPage();
      const problems = [];
      await page.setViewport(view);
      await page.setRequestInterception(true);
      page.on("request", (req) => {
        const u = req.url();
        if (u.startsWith("file:") || u.startsWith("data:")) {
          req.continue();
        } else {
          problems.push(`request left the page: ${u}`);
          req.abort();
        }
      });
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console error: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      await page.goto(url, { waitUntil: "load" });
      // Open every text alternative, so the tables are measured and checked too.
      await page.evaluate(() => document.querySelectorAll("details").forEach((d) => (d.open = true)));

      if (view.name === "desktop") {
        // The page's structure as the browser parsed it: tag and classes, one line per element,
        // a chart as one line (its marks depend on the data, not the page's structure).
        const outline = await page.evaluate(() => {
          const lines = [];
          const walk = (el, depth) => {
            const cls = [...el.classList].map((c) => `.${c}`).join("");
            const role = el.getAttribute("role") ? `[role=${el.getAttribute("role")}]` : "";
            lines.push(`${"  ".repeat(depth)}${el.tagName.toLowerCase()}${cls}${role}`);
            if (el.tagName.toLowerCase() === "svg") return;
            for (const c of el.children) walk(c, depth + 1);
          };
          walk(document.documentElement, 0);
          return lines.join("\n") + "\n";
        });
        writeFileSync(resolve(shots, `${basename(file, ".html")}.outline.txt`), outline);
      }
      const layout = await page.evaluate(() => {
        const out = [];
        const doc = document.documentElement;
        if (doc.scrollWidth > window.innerWidth + 1) {
          out.push(`horizontal overflow: page is ${doc.scrollWidth}px wide in a ${window.innerWidth}px window`);
        }
        const scrolls = (el) => {
          for (let a = el.parentElement; a; a = a.parentElement) {
            const o = getComputedStyle(a).overflowX;
            if (o === "auto" || o === "scroll") return a;
          }
          return null;
        };
        for (const el of document.body.querySelectorAll("*")) {
          const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
          if (!own || el.closest("svg")) continue;
          const style = getComputedStyle(el);
          const name = `${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 40)}"`;
          if (["hidden", "clip"].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1) {
            out.push(`text clipped inside ${name}`);
          }
          const box = el.getBoundingClientRect();
          const frame = scrolls(el);
          const limit = frame ? frame.getBoundingClientRect() : { left: 0, right: doc.clientWidth };
          // Inside a scrolling table the text may extend past the frame: it scrolls into view.
          if (!frame && (box.right > limit.right + 1 || box.left < limit.left - 1)) {
            out.push(`text outside the window: ${name} spans ${Math.round(box.left)}..${Math.round(box.right)}`);
          }
        }
        return { problems: out, svgs: document.querySelectorAll("svg").length };
      });
      problems.push(...layout.problems);

      // Each chart's accessible name, as the browser's accessibility tree computes it.
      const svgs = await page.$$("svg");
      let named = 0;
      for (const svg of svgs) {
        const node = await page.accessibility.snapshot({ root: svg, interestingOnly: false });
        if (node && node.role === "image" || node && node.role === "img") {
          if (node.name && node.name.trim()) named++;
          else problems.push("a chart has no accessible name");
        } else {
          problems.push(`a chart is not exposed as an image (role ${node && node.role})`);
        }
      }

      await page.addScriptTag({ content: axeSource });
      const axe = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ["violations"] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
      });
      for (const v of axe) {
        if (v.impact === "serious" || v.impact === "critical") {
          problems.push(`axe ${v.impact}: ${v.id} (${v.nodes} nodes): ${v.help}`);
        }
      }

      const shot = resolve(shots, `${basename(file, ".html")}-${view.name}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      console.log(
        JSON.stringify({
          page: file,
          view: view.name,
          charts: svgs.length,
          named,
          axe_minor: axe.filter((v) => v.impact !== "serious" && v.impact !== "critical").map((v) => v.id),
          screenshot: shot,
          problems,
        }),
      );
      if (problems.length) failed = true;
      await page.close();
    }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
