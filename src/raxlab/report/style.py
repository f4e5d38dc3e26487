"""The report's stylesheet (inlined into the HTML; no web fonts, nothing fetched)."""

CSS = """
:root { --ink:#1b1f24; --muted:#5b6470; --line:#d8dde3; --bg:#f6f8fa; --accent:#0072B2; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px 28px 40px; color: var(--ink); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 0 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--accent); }
h3 { font-size: 16px; margin: 22px 0 8px; }
h4 { font-size: 14px; margin: 0 0 6px; }
.subtitle { color: var(--muted); margin: 0 0 12px; }
.cover { border-bottom: 1px solid var(--line); margin-bottom: 18px; padding-bottom: 10px; }
.cover-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
.toc ol { margin: 0; padding-left: 20px; columns: 2; column-gap: 16px; font-size: 13px; }
.toc a { color: var(--accent); text-decoration: none; }
.small { font-size: 12px; color: var(--muted); margin: 0 0 4px; }
.legend-labels, .basis { list-style: none; padding: 0; margin: 4px 0; font-size: 12px; color: var(--muted); }
.legend-labels li, .basis li { margin: 2px 0; }
section.section { margin: 0 0 36px; }
p.note { color: var(--muted); font-size: 13px; }
p.warn { background: #fff4e5; border-left: 4px solid #E69F00; padding: 6px 10px; }
p.missing { background: var(--bg); border-left: 4px solid #9aa4af; padding: 6px 10px; color: #3d4651; }
p.verdict { background: #eef6fc; border-left: 4px solid var(--accent); padding: 6px 10px; font-weight: 500; }
.lab { display: inline-block; font-size: 10px; line-height: 14px; padding: 0 5px; border-radius: 7px;
  font-weight: 600; vertical-align: middle; white-space: nowrap; border: 1px solid transparent; }
.lab-measured { background: #e3f4ec; color: #00603f; border-color: #9fd8bd; }
.lab-projected { background: #e6f0fa; color: #004f7c; border-color: #a9cbe8; }
.lab-catalogue { background: #f3ecf7; color: #6b3a7d; border-color: #d5bde0; }
.lab-estimate { background: #fdf0e0; color: #8a4b00; border-color: #efc48f; }
.lab-override { background: #fbe7e1; color: #8d2f12; border-color: #eab1a0; }
.lab-input { background: #eeeeee; color: #333; border-color: #ccc; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 10px; margin: 8px 0 14px; }
.fact { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; background: #fff; }
.fkey { font-size: 12px; color: var(--muted); font-weight: 600; }
.fval { font-size: 15px; font-weight: 600; margin-top: 2px; overflow-wrap: break-word; }
.fbasis { font-size: 11px; color: var(--muted); margin-top: 3px; }
.tablewrap { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
caption { caption-side: top; text-align: left; color: var(--muted); font-size: 12px; padding: 0 0 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
td.num, td.short { white-space: nowrap; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure.chart { margin: 12px 0 18px; padding: 10px; border: 1px solid var(--line); border-radius: 6px; }
figure.chart svg { display: block; width: 100%; max-width: 780px; height: auto; }
figure.chart.half { display: inline-block; width: calc(50% - 6px); vertical-align: top; margin-right: 6px; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 4px; }
pre { background: var(--bg); padding: 10px 12px; border-radius: 6px; overflow-x: auto; font-size: 12px;
  white-space: pre-wrap; overflow-wrap: break-word; }
footer { margin-top: 30px; font-size: 12px; color: var(--muted); border-top: 1px solid var(--line); padding-top: 8px; }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  .cover-grid { grid-template-columns: 1fr 1fr; }
  .cover { margin-bottom: 8px; padding-bottom: 4px; }
  .toc ol { columns: 2; font-size: 10px; }
  .legend-labels li { display: inline-block; margin: 1px 8px 1px 0; }
  p.verdict, p.warn, p.missing { padding: 3px 8px; margin: 5px 0; }
  .facts { grid-template-columns: repeat(4, 1fr); gap: 5px; }
  .fact { padding: 4px 6px; }
  .fval { font-size: 12px; }
  .fbasis { font-size: 9px; }
  h1 { font-size: 20px; }
  h2 { font-size: 17px; }
  section.section + section.section { break-before: page; }
  section.section { margin: 0; }
  figure.chart, .fact, tr, pre, p { break-inside: avoid; }
  figure.chart { padding: 4px; }
  figure.chart svg { max-height: 88mm; width: auto; margin: 0 auto; }
  h2, h3, h4 { break-after: avoid; }
  thead { display: table-header-group; }
  table { font-size: 9.5px; }
  td.num { white-space: normal; }
  .tablewrap { overflow: visible; }
  .toc a { color: var(--ink); }
  .lab, p.verdict, p.warn, p.missing, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""
