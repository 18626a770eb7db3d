//! Draws a bundle's expiry timeline ([`crate::timeline::Timeline`]): a heading that says when
//! the first certificate expires and how many are due, and a table, soonest first, with a bar
//! per certificate on one time axis from today to the last expiry. Due rows (under 30 days) are
//! marked; with `show_kept`, each row says whether it was kept from the previous bundle.

use std::rc::Rc;

use kbundle_core::bundle::expiry::Expiry;
use yew::prelude::*;

use crate::timeline::Timeline;

/// What the timeline is given.
#[derive(Properties, PartialEq, Clone)]
pub struct TimelineProps {
    /// The element id.
    pub id: AttrValue,
    /// What it is the timeline of.
    pub caption: AttrValue,
    /// The bundle's CAs, certificates and kubeconfigs.
    pub entries: Rc<Vec<Expiry>>,
    /// Today (unix seconds).
    pub now: i64,
    /// Say of each whether it was kept from the previous bundle.
    pub show_kept: bool,
}

/// The timeline.
#[component]
pub fn TimelineView(props: &TimelineProps) -> Html {
    // The rows are made only once opened: a 100-node bundle has hundreds, and drawing them
    // unseen right after a build would hold the main thread for nothing.
    let open = use_state(|| false);
    let on_toggle = {
        let open = open.clone();
        Callback::from(move |event: MouseEvent| {
            event.prevent_default();
            open.set(!*open);
        })
    };
    let timeline = Timeline::of(&props.entries, props.now);
    let Some(soonest) = timeline.soonest() else {
        return html! {};
    };
    let heading = format!(
        "{}: {} — the first expires on {} ({} days){}",
        props.caption,
        timeline.rows.len(),
        soonest.expires,
        soonest.days_left,
        match timeline.due {
            0 => String::new(),
            due => format!(", {due} within 30 days: renew them (kbundle certs renew)"),
        }
    );
    let rows = timeline.rows.iter().map(|row| {
        // An SVG bar: the page's Content-Security-Policy allows no style attribute.
        let width = format!("{:.1}", row.fraction * 100.0);
        html! {
            <tr class={classes!(row.due.then_some("due"), row.is_ca.then_some("ca"))}>
                <td><code>{ row.what.clone() }</code><small>{ match &row.node {
                    Some(node) => format!("{node} · CN={}", row.common_name),
                    None => format!("CN={}", row.common_name),
                } }</small></td>
                <td class="date">{ row.expires.clone() }<small>{ format!("{} days", row.days_left) }</small></td>
                <td class="bar" aria-hidden="true">
                    <svg viewBox="0 0 100 10" preserveAspectRatio="none"><rect x="0" y="0" width={width} height="10"/></svg>
                </td>
                { if props.show_kept { html! {
                    <td class="kept">{ if row.kept { "kept" } else { "new" } }</td>
                } } else { html! {} } }
            </tr>
        }
    });
    html! {
        <details class={classes!("timeline", (timeline.due > 0).then_some("has-due"))} id={props.id.clone()} open={*open}>
            <summary onclick={on_toggle}>{ heading }</summary>
            { if *open { html! {
            <div class="scroll">
                <table>
                    <thead><tr>
                        <th scope="col">{"Certificate"}</th><th scope="col">{"Expires"}</th>
                        <th scope="col">{ format!("to {}", timeline.horizon) }</th>
                        { if props.show_kept { html! { <th scope="col">{"Was"}</th> } } else { html! {} } }
                    </tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
            </div>
            } } else { html! {} } }
        </details>
    }
}
