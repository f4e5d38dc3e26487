// Pages the report needs when printed, simulated on the print-media layout (test helper).
// Each section starts a page (the first follows the cover). Blocks that must not break
// (paragraphs, figures, facts) move whole to the next page when they do not fit; tables break
// between rows and repeat their header; a heading stays with the block after it; the top
// margin of a block that starts a page is dropped. Side-by-side charts count as one line.
(() => {
  const PAGE_H = __PAGE_H__;
  const rect = (e) => e.getBoundingClientRect();
  function atoms(sec) {
    const out = [];
    for (const c of sec.children) {
      if (c.classList.contains('tablewrap')) {
        const t = c.querySelector('table'), head = t.querySelector('thead'), cap = t.querySelector('caption');
        const hh = head ? rect(head).height : 0;
        if (cap) out.push({top: rect(cap).top, bottom: rect(cap).bottom});
        t.querySelectorAll('tbody tr').forEach((r, i) => out.push(
          {top: i === 0 && head ? rect(head).top : rect(r).top, bottom: rect(r).bottom, repeat: hh}));
        c.querySelectorAll('ul.basis > li').forEach(li => out.push({top: rect(li).top, bottom: rect(li).bottom}));
      } else if (c.tagName === 'UL' || c.tagName === 'OL') {
        c.querySelectorAll(':scope > li').forEach(li => out.push({top: rect(li).top, bottom: rect(li).bottom}));
      } else {
        out.push({top: rect(c).top, bottom: rect(c).bottom, glue: /^H[1-6]$/.test(c.tagName)});
      }
    }
    const merged = [];  // side-by-side blocks (half-width charts) share one line
    for (const a of out) {
      const last = merged[merged.length - 1];
      if (last && Math.abs(a.top - last.top) < 1) last.bottom = Math.max(last.bottom, a.bottom);
      else merged.push({...a});
    }
    return merged;
  }
  function pages(list, startY) {
    let n = 1, y = startY, prev = null;
    for (let i = 0; i < list.length; i++) {
      const a = list[i], gap = prev === null ? 0 : Math.max(0, a.top - prev), h = a.bottom - a.top;
      let need = gap + h;
      if (a.glue && i + 1 < list.length) need = list[i + 1].bottom - (a.top - gap);
      if (y + need > PAGE_H + 0.5 && y > 0) {
        n += 1; y = h + (a.repeat || 0);
        while (y > PAGE_H) { n += 1; y -= PAGE_H; }
      } else y += gap + h;
      prev = a.bottom;
    }
    return n;
  }
  const cover = rect(document.querySelector('header.cover'));
  const secs = Array.from(document.querySelectorAll('section.section'));
  return secs.map((s, i) => pages(atoms(s), i === 0 ? rect(s).top - cover.top : 0));
})()
