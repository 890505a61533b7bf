package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// The HTML report: one self-contained file, inline CSS and SVG, no script and no
// reference to anything outside itself, so it can be mailed or archived and
// still read in ten years. Every piece of text that comes from events (type
// names, hosts, field values, messages, file names) goes through esc.

// palette colours the series of a chart, in order.
var palette = []string{"#4f46e5", "#0d9488", "#d97706", "#db2777", "#0284c7", "#7c3aed", "#65a30d", "#dc2626"}

const reportCSS = `
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f5f6f8;--card:#fff;--accent:#4f46e5;--bad:#dc2626}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-text-size-adjust:100%}
main{max-width:1120px;margin:0 auto;padding:28px 20px 48px}
header h1{font-size:26px;margin:0 0 4px;letter-spacing:-.01em}
header p{margin:0;color:var(--muted)}
h2{font-size:19px;margin:36px 0 12px;letter-spacing:-.005em}
h3{font-size:15px;margin:0 0 2px;overflow-wrap:anywhere}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-top:20px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 16px}
.kpi b{display:block;font-size:24px;font-variant-numeric:tabular-nums;letter-spacing:-.01em}
.kpi span{color:var(--muted);font-size:13px}
.kpi.bad b{color:var(--bad)}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin-bottom:14px;min-width:0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:14px}
.grid .card{margin:0}
.meta{color:var(--muted);font-size:13px;margin:0 0 8px}
.meta b{color:var(--fg);font-weight:600}
svg{display:block;width:100%;height:auto;overflow:visible}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#6b7280}
svg .lbl{fill:#374151;font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:14px}
th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em;border-bottom:1px solid var(--line);padding:6px 8px}
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:middle}
tr:last-child td{border-bottom:0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.v{overflow-wrap:break-word;max-width:420px}
td.bar{width:32%;min-width:90px}
.bar svg{height:12px}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;border-radius:4px;padding:1px 4px}
.note{color:var(--muted);font-size:13px;margin:8px 0 0}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:13px;margin:10px 0 0;padding:0;list-style:none}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.ok{color:#15803d}
footer{margin-top:40px;color:var(--muted);font-size:12px}
.narrow{display:none}
@media (max-width:600px){main{padding:18px 12px 32px}header h1{font-size:22px}.grid{grid-template-columns:1fr}.bar{display:none}td.v{min-width:9em}.wide{display:none}.narrow{display:block}.kpi b{font-size:20px}}
`

// esc makes event-derived text safe to place in HTML text or an attribute, and
// readable: invalid UTF-8 and control characters are replaced; it is cut to n runes.
func esc(s string, n int) string {
	return html.EscapeString(clean(s, n))
}

// writeHTML writes the report of r to w. Write errors surface when w is flushed.
func writeHTML(w io.Writer, r *result) {
	b := &strings.Builder{}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }

	p(`<!doctype html><html lang="en"><head><meta charset="utf-8">`)
	p(`<meta name="viewport" content="width=device-width,initial-scale=1">`)
	p(`<title>Events report: %s events</title><style>%s</style></head><body><main>`, fmtCount(r.Events), reportCSS)

	p(`<header><h1>What the events say</h1><p>`)
	if r.First != "" {
		p(`%s → %s · %s`, esc(humanTime(r.FirstUnix), 40), esc(humanTime(r.LastUnix), 40), esc(fmtSpan(r.LastUnix-r.FirstUnix), 40))
	} else {
		p(`no timed events`)
	}
	p(`</p></header>`)

	// Headline numbers.
	errShare := 0.0
	if r.Events > 0 {
		errShare = float64(r.Errors.Count) / float64(r.Events)
	}
	p(`<section class="kpis">`)
	kpi(b, fmtCount(r.Events), "events", false)
	kpi(b, fmt.Sprint(len(r.Types)), "types", false)
	kpi(b, distinct(r.Hosts), "hosts", false)
	kpi(b, fmtCount(r.Errors.Count), "errors ("+fmtPct(errShare)+")", r.Errors.Count > 0)
	kpi(b, fmtCount(r.Skipped.Count+uint64(len(r.Skipped.ReadErrors))), "damaged ranges skipped", r.Skipped.Count > 0 || len(r.Skipped.ReadErrors) > 0)
	p(`</section>`)

	// Everything over time, errors on top.
	if r.Timeline.Bins > 0 {
		var total []uint64
		for _, t := range r.Types {
			if total == nil {
				total = make([]uint64, len(t.PerBin))
			}
			for i, c := range t.PerBin {
				total[i] += c
			}
		}
		p(`<h2>Events over time</h2><div class="card">`)
		p(`<p class="meta">events per minute, all types; <span style="color:var(--bad)">errors</span> in red · one bar is %s</p>`, esc(binName(r.Timeline.BinSeconds), 30))
		wideNarrow(b, func(w, h float64) {
			timeChart(b, r.Timeline, [][]uint64{total, r.Errors.PerBin}, []string{palette[0], "#dc2626"}, w, h)
		}, 200)
		p(`</div>`)
	}

	// Types.
	p(`<h2>Types</h2><div class="card scroll"><table><thead><tr><th>type</th><th class="n">count</th><th class="bar"></th>`)
	p(`<th class="n">errors</th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">max</th></tr></thead><tbody>`)
	var maxCount uint64
	for _, t := range r.Types {
		maxCount = max(maxCount, t.Count)
	}
	for i, t := range r.Types {
		p(`<tr><td class="v"><code>%s</code></td><td class="n">%s</td><td class="bar">`, esc(t.Type, 80), fmtCount(t.Count))
		barSVG(b, float64(t.Count)/float64(max(maxCount, 1)), palette[i%len(palette)])
		p(`</td><td class="n">%s</td>`, fmtCount(t.Errors))
		if d := t.Duration; d != nil {
			p(`<td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td>`, fmtDur(d.P50), fmtDur(d.P90), fmtDur(d.P99), fmtDur(d.Max))
		} else {
			p(`<td class="n">–</td><td class="n">–</td><td class="n">–</td><td class="n">–</td>`)
		}
		p(`</tr>`)
	}
	p(`</tbody></table><p class="note">Percentiles are within %g%% of the true value (log-scale histograms of fixed size); the largest is exact.</p></div>`, r.DurationRelError*100)

	p(`<div class="grid">`)
	for i, t := range r.Types {
		if i >= 24 {
			break
		}
		col := palette[i%len(palette)]
		p(`<div class="card"><h3><code>%s</code></h3><p class="meta"><b>%s</b> events`, esc(t.Type, 80), fmtCount(t.Count))
		if d := t.Duration; d != nil {
			p(` · p50 <b>%s</b> · p90 <b>%s</b> · p99 <b>%s</b> · max <b>%s</b>`, fmtDur(d.P50), fmtDur(d.P90), fmtDur(d.P99), fmtDur(d.Max))
		}
		p(`</p>`)
		if r.Timeline.Bins > 0 {
			timeChart(b, r.Timeline, [][]uint64{t.PerBin}, []string{col}, 360, 120)
		}
		if len(t.Histogram) > 0 {
			p(`<p class="meta" style="margin-top:10px">how long they took (log scale)</p>`)
			histChart(b, t.Histogram, t.Duration, col)
		}
		p(`</div>`)
	}
	p(`</div>`)
	if len(r.Types) > 24 {
		p(`<p class="note">Charts for the 24 most frequent types; all are in the table above.</p>`)
	}

	// --by fields.
	for _, by := range r.By {
		p(`<h2>By <code>%s</code></h2><div class="card scroll">`, esc(by.Field, 80))
		p(`<p class="meta"><b>%s</b> events carry it, %s do not`, fmtCount(by.With), fmtCount(by.Without))
		if by.Type != "" {
			p(` (events of type <code>%s</code>)`, esc(by.Type, 80))
		}
		p(`</p>`)
		valueTable(b, by.topResult, "value", true, palette)
		p(`</div>`)
	}

	// Errors.
	p(`<h2>Errors</h2><div class="card">`)
	p(`<p class="meta">events whose <code>%s</code> is set: <b>%s</b> of %s`, esc(r.Errors.Field, 80), fmtCount(r.Errors.Count), fmtCount(r.Events))
	if len(r.Errors.ByType) > 0 {
		p(` · by type:`)
		for i, tc := range r.Errors.ByType {
			if i > 0 {
				p(`,`)
			}
			p(` <code>%s</code> %s`, esc(tc.Type, 60), fmtCount(tc.Count))
		}
	}
	p(`</p>`)
	if r.Errors.Count > 0 {
		if r.Timeline.Bins > 0 {
			wideNarrow(b, func(w, h float64) {
				timeChart(b, r.Timeline, [][]uint64{r.Errors.PerBin}, []string{"#dc2626"}, w, h)
			}, 140)
		}
		p(`<div class="scroll" style="margin-top:12px">`)
		valueTable(b, r.Errors.Messages, "message", false, []string{"#dc2626"})
		p(`</div>`)
	} else {
		p(`<p class="ok">No errors.</p>`)
	}
	p(`</div>`)

	// Sub-events.
	if len(r.Subevents) > 0 {
		p(`<h2>Where the time goes</h2>`)
		for _, j := range r.Subevents {
			p(`<div class="card"><h3><code>%s</code></h3>`, esc(j.Parent, 80))
			p(`<p class="meta"><b>%s</b> events took <b>%s</b> in all; their sub-events, joined by id:</p>`, fmtCount(j.Parents), fmtDur(j.Seconds))
			shareBar(b, j)
			p(`<div class="scroll"><table><thead><tr><th>sub-event</th><th class="n">events</th><th class="n">in parents</th><th class="n">time</th><th class="n">share</th><th class="n">not joined</th></tr></thead><tbody>`)
			for i, s := range j.Subs {
				p(`<tr><td class="v"><i style="display:inline-block;width:10px;height:10px;border-radius:2px;background:%s;margin-right:6px"></i><code>%s</code></td>`, palette[(i+1)%len(palette)], esc(s.Type, 80))
				p(`<td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td></tr>`,
					fmtCount(s.Events), fmtCount(s.Parents), fmtDur(s.Seconds), fmtPct(s.Share), fmtCount(s.Unjoined))
			}
			p(`</tbody></table></div><p class="note">Share: total duration of the sub-events over that of all <code>%s</code> events; sub-events running at the same time can add up to more than 100%%. Not joined: no parent with their id was found within %s waiting ids.</p></div>`, esc(j.Parent, 60), fmtCount(uint64(r.JoinWaitLimit)))
		}
	}

	// Hosts, input and damage.
	p(`<h2>Hosts</h2><div class="card scroll">`)
	valueTable(b, r.Hosts, "host", false, []string{"#0284c7"})
	if r.EventsWithoutHost > 0 {
		p(`<p class="note">Events that name no host: %s.</p>`, fmtCount(r.EventsWithoutHost))
	}
	p(`</div>`)

	p(`<h2>Input</h2><div class="card"><p class="meta">`)
	if r.First != "" {
		p(`From <b>%s</b> to <b>%s</b> UTC.<br>`, esc(r.First, 40), esc(r.Last, 40))
	}
	p(`Read: `)
	for i, in := range r.Inputs {
		if i >= 50 {
			p(` and %d more`, len(r.Inputs)-50)
			break
		}
		p(`<code>%s</code> `, esc(in, 120))
	}
	p(`</p>`)
	if r.Skipped.Count == 0 && len(r.Skipped.ReadErrors) == 0 {
		p(`<p class="ok">Nothing was damaged: every byte was read as events.</p>`)
	} else {
		p(`<p class="meta" style="color:var(--bad)"><b style="color:var(--bad)">%s damaged range(s), %s bytes, were skipped</b>; reading went on after each.</p>`, fmtCount(r.Skipped.Count), fmtCount(uint64(r.Skipped.Bytes)))
		p(`<div class="scroll"><table><thead><tr><th>input</th><th class="n">at byte</th><th class="n">bytes</th><th>why</th></tr></thead><tbody>`)
		for _, sk := range r.Skipped.Ranges {
			at := "–" // an event of the live stream has no offset
			if sk.Offset >= 0 {
				at = fmt.Sprint(sk.Offset)
			}
			p(`<tr><td class="v"><code>%s</code></td><td class="n">%s</td><td class="n">%s</td><td>%s</td></tr>`, esc(sk.Input, 120), at, fmtCount(uint64(sk.Bytes)), esc(sk.Reason, 120))
		}
		p(`</tbody></table></div>`)
		if int(r.Skipped.Count) > len(r.Skipped.Ranges) {
			p(`<p class="note">The first %d ranges are listed.</p>`, len(r.Skipped.Ranges))
		}
		for _, e := range r.Skipped.ReadErrors {
			p(`<p class="meta" style="color:var(--bad)">%s</p>`, esc(e, 300))
		}
	}
	p(`</div>`)
	p(`<footer>Made by oxview from BlueOx events. Counts are exact unless marked ~ (bounded top-%d tables: such a count may be over by the amount shown).</footer>`, r.TopValuesCapacity)
	p(`</main></body></html>`)
	io.WriteString(w, b.String())
}

func kpi(b *strings.Builder, value, label string, bad bool) {
	cls := "kpi"
	if bad {
		cls += " bad"
	}
	fmt.Fprintf(b, `<div class="%s"><b>%s</b><span>%s</span></div>`, cls, html.EscapeString(value), html.EscapeString(label))
}

// valueTable writes a top-k table with a bar per value.
func valueTable(b *strings.Builder, t topResult, what string, withP90 bool, cols []string) {
	if len(t.Values) == 0 {
		fmt.Fprintf(b, `<p class="note">none</p>`)
		return
	}
	fmt.Fprintf(b, `<table><thead><tr><th>%s</th><th class="n">count</th><th class="n">share</th><th class="bar"></th>`, what)
	if withP90 {
		fmt.Fprintf(b, `<th class="n">p90</th>`)
	}
	fmt.Fprintf(b, `</tr></thead><tbody>`)
	top := t.Values[0].Share
	for i, v := range t.Values {
		fmt.Fprintf(b, `<tr><td class="v"><code>%s</code></td><td class="n">%s</td><td class="n">%s</td><td class="bar">`,
			esc(v.Value, 160), html.EscapeString(countOf(v)), fmtPct(v.Share))
		barSVG(b, v.Share/math.Max(top, 1e-12), cols[i%len(cols)])
		b.WriteString(`</td>`)
		if withP90 {
			if v.P90 != nil {
				fmt.Fprintf(b, `<td class="n">%s</td>`, fmtDur(*v.P90))
			} else {
				b.WriteString(`<td class="n">–</td>`)
			}
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table>`)
	if len(t.Values) < t.Distinct {
		fmt.Fprintf(b, `<p class="note">The %d most frequent of %s values.</p>`, len(t.Values), distinct(t))
	}
	if t.Approximate {
		fmt.Fprintf(b, `<p class="note">Approximate: more distinct values than the table holds, so counts marked ~ may be up to %s too high.</p>`, fmtCount(t.MaxError))
	}
}

// wideNarrow draws a chart twice, for wide and for narrow screens (CSS shows
// one), so its labels stay readable on a phone without a script.
func wideNarrow(b *strings.Builder, draw func(w, h float64), h float64) {
	b.WriteString(`<div class="wide">`)
	draw(760, h)
	b.WriteString(`</div><div class="narrow">`)
	draw(360, h)
	b.WriteString(`</div>`)
}

// barSVG writes a horizontal bar filled to frac (0..1) of its width.
func barSVG(b *strings.Builder, frac float64, col string) {
	w := math.Max(0, math.Min(1, frac)) * 100
	fmt.Fprintf(b, `<svg viewBox="0 0 100 12" preserveAspectRatio="none" role="img"><rect x="0" y="0" width="100" height="12" rx="2" fill="#eef0f3"/><rect x="0" y="0" width="%.2f" height="12" rx="2" fill="%s"/></svg>`, w, col)
}

// shareBar writes a stacked bar: each sub-event type's share of the parent's
// time, and what is left (the parent's own time, or overlap when over 100%).
func shareBar(b *strings.Builder, j joinResult) {
	const W, H = 760.0, 34.0
	fmt.Fprintf(b, `<svg viewBox="0 0 %g %g" role="img"><rect x="0" y="0" width="%g" height="%g" rx="5" fill="#e5e7eb"/>`, W, H, W, H)
	total := 0.0
	for _, s := range j.Subs {
		total += s.Share
	}
	scale := 1.0
	if total > 1 {
		scale = 1 / total
	}
	x := 0.0
	for i, s := range j.Subs {
		w := s.Share * scale * W
		if w <= 0 {
			continue
		}
		fmt.Fprintf(b, `<rect x="%.2f" y="0" width="%.2f" height="%g" fill="%s"/>`, x, w, H, palette[(i+1)%len(palette)])
		if w > 60 {
			fmt.Fprintf(b, `<text x="%.2f" y="21" style="fill:#fff;font-weight:600">%s</text>`, x+8, fmtPct(s.Share))
		}
		x += w
	}
	if x < W-60 {
		fmt.Fprintf(b, `<text x="%.2f" y="21" class="lbl">own time %s</text>`, x+8, fmtPct(math.Max(0, 1-total)))
	}
	b.WriteString(`</svg><ul class="legend">`)
	for i, s := range j.Subs {
		fmt.Fprintf(b, `<li><i style="background:%s"></i>%s %s</li>`, palette[(i+1)%len(palette)], esc(s.Type, 60), fmtPct(s.Share))
	}
	fmt.Fprintf(b, `<li><i style="background:#e5e7eb"></i>rest of %s</li></ul>`, esc(j.Parent, 60))
}

// timeChart draws counts per bin as events per minute: bars for one series,
// the later series drawn over the first.
func timeChart(b *strings.Builder, tl timeline, series [][]uint64, cols []string, W, H float64) {
	const left, right, top, bottom = 52.0, 10.0, 10.0, 24.0
	pw, ph := W-left-right, H-top-bottom
	perMin := 60 / float64(max(tl.BinSeconds, 1))
	peak := 0.0
	for _, s := range series {
		for _, c := range s {
			peak = math.Max(peak, float64(c)*perMin)
		}
	}
	ymax, step := niceScale(peak, 4)
	fmt.Fprintf(b, `<svg viewBox="0 0 %g %g" role="img" aria-label="events per minute">`, W, H)
	// Horizontal grid and y labels.
	for v := 0.0; v <= ymax; v += step {
		y := top + ph - ph*v/ymax
		fmt.Fprintf(b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#e5e7eb"/>`, left, W-right, y, y)
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`, left-6, y+4, shortNum(v))
	}
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="end" transform="rotate(-90 %g %g)">per min</text>`, 12.0, top+ph/2, 12.0, top+ph/2)
	n := tl.Bins
	bw := pw / float64(max(n, 1))
	for si, s := range series {
		col := cols[si%len(cols)]
		for i, c := range s {
			if c == 0 {
				continue
			}
			h := ph * float64(c) * perMin / ymax
			gap := math.Min(bw*0.15, 2)
			if n == 1 {
				gap = bw * 0.3
			}
			fmt.Fprintf(b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s" rx="1"/>`,
				left+float64(i)*bw+gap/2, top+ph-h, math.Max(bw-gap, 0.6), math.Max(h, 0.8), col)
		}
	}
	// Time labels: up to six, on bin starts.
	span := float64(int64(n) * tl.BinSeconds)
	days := span > 86400
	ticks := max(1, min(int(pw/120), n))
	for k := 0; k < ticks; k++ {
		i := 0
		if ticks > 1 {
			i = k * (n - 1) / (ticks - 1)
		}
		t := time.Unix(tl.Start+int64(i)*tl.BinSeconds, 0).UTC()
		clock := "15:04"
		if tl.BinSeconds < 60 {
			clock = "15:04:05"
		}
		label := t.Format(clock)
		if days || k == 0 {
			label = t.Format("Jan 2 " + clock)
		}
		anchor := "middle"
		if k == 0 {
			anchor = "start"
		} else if k == ticks-1 && ticks > 1 {
			anchor = "end"
		}
		x := left + float64(i)*bw
		switch anchor {
		case "middle":
			x += bw / 2
		case "end":
			x += bw
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="%s">%s</text>`, x, H-6, anchor, label)
	}
	fmt.Fprintf(b, `<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="#9ca3af"/>`, left, W-right, top+ph, top+ph)
	b.WriteString(`</svg>`)
}

// histChart draws a duration histogram on a log scale, with the p50, p90 and p99
// marked.
func histChart(b *strings.Builder, bins []histBinJSON, d *durResult, col string) {
	const W, H = 360.0, 130.0
	const left, right, top, bottom = 40.0, 12.0, 18.0, 24.0
	pw, ph := W-left-right, H-top-bottom
	lo, hi := math.Log10(bins[0].Lo), math.Log10(bins[len(bins)-1].Hi)
	if hi-lo < 1 { // at least a decade wide, so the axis has labels
		mid := (hi + lo) / 2
		lo, hi = mid-0.5, mid+0.5
	}
	x := func(v float64) float64 { return left + pw*(math.Log10(math.Max(v, 1e-9))-lo)/(hi-lo) }
	var peak uint64
	for _, bn := range bins {
		peak = max(peak, bn.Count)
	}
	ymax, step := niceScale(float64(peak), 2)
	fmt.Fprintf(b, `<svg viewBox="0 0 %g %g" role="img" aria-label="duration histogram">`, W, H)
	for v := 0.0; v <= ymax; v += step {
		y := top + ph - ph*v/ymax
		fmt.Fprintf(b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#e5e7eb"/>`, left, W-right, y, y)
		fmt.Fprintf(b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`, left-6, y+4, shortNum(v))
	}
	for _, bn := range bins {
		if bn.Count == 0 {
			continue
		}
		x0, x1 := x(bn.Lo), x(bn.Hi)
		h := ph * float64(bn.Count) / ymax
		fmt.Fprintf(b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s" fill-opacity=".85" rx="1"/>`,
			x0+0.5, top+ph-h, math.Max(x1-x0-1, 0.8), math.Max(h, 0.8), col)
	}
	for e := math.Ceil(lo); e <= math.Floor(hi); e++ {
		xv := x(math.Pow(10, e))
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#9ca3af"/>`, xv, xv, top+ph, top+ph+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`, xv, H-6, decadeName(int(e)))
	}
	fmt.Fprintf(b, `<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="#9ca3af"/>`, left, W-right, top+ph, top+ph)
	if d != nil {
		marks := []struct {
			name string
			v    float64
		}{{"p50", d.P50}, {"p90", d.P90}, {"p99", d.P99}}
		lastX := -100.0
		for _, m := range marks {
			xv := x(m.v)
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#111827" stroke-dasharray="3 3"/>`, xv, xv, top-4, top+ph)
			if xv-lastX > 26 {
				fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="middle" class="lbl">%s</text>`, xv, top-7, m.name)
				lastX = xv
			}
		}
	}
	b.WriteString(`</svg>`)
}

// decadeName names 10^e seconds for an axis.
func decadeName(e int) string {
	switch {
	case e <= -7:
		return fmt.Sprintf("%g µs", math.Pow(10, float64(e+6)))
	case e < -3:
		return fmt.Sprintf("%g µs", math.Pow(10, float64(e+6)))
	case e < 0:
		return fmt.Sprintf("%g ms", math.Pow(10, float64(e+3)))
	case e < 3:
		return fmt.Sprintf("%g s", math.Pow(10, float64(e)))
	}
	return fmt.Sprintf("%g ks", math.Pow(10, float64(e-3)))
}

// niceScale returns the top of an axis holding v, split in ticks steps of
// 1, 2 or 5 times a power of ten (whole numbers; 1 at least).
func niceScale(v float64, ticks int) (top, step float64) {
	raw := math.Max(v, 1) / float64(ticks)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * p
	for _, m := range []float64{1, 2, 5} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	step = math.Max(step, 1)
	return step * math.Max(1, math.Ceil(v/step)), step
}

// shortNum formats an axis value: 950, 1.2k, 3.4M.
func shortNum(v float64) string {
	switch {
	case v >= 1e6:
		return trimZero(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case v >= 1e3:
		return trimZero(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case v == math.Trunc(v):
		return fmt.Sprintf("%d", int64(v))
	}
	return trimZero(fmt.Sprintf("%.2f", v))
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// binName names a bin width: "1 minute", "8 minutes", "2 hours 8 minutes".
func binName(sec int64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case sec == 1:
		return "1 second"
	case sec < 60:
		return fmt.Sprintf("%d seconds", sec)
	case sec == 60:
		return "1 minute"
	}
	if sec < 3600 {
		return fmt.Sprintf("%d minutes", sec/60)
	}
	return strings.TrimSuffix(d.String(), "0s")
}

// humanTime formats Unix seconds for a heading: "Tue 24 Nov 2026 12:26:18 UTC".
func humanTime(t float64) string {
	return time.Unix(int64(t), 0).UTC().Format("Mon 2 Jan 2006 15:04:05 UTC")
}
