//! The side panel's network plan: the facts (endpoint, service IPs, ranges, capacity), each
//! node's addresses, roles and pod range, the picture of the address space with its overlaps,
//! and NO_PROXY. An invalid form shows the last valid plan, dimmed.

use kbundle_core::plan::NetworkPlan;
use yew::prelude::*;

use super::App;
use crate::address_map::{self, FamilyMap};

impl App {
    pub(super) fn view_plan(&self) -> Html {
        let Some(plan) = &self.plan else {
            return html! {
                <section class="card plan" aria-labelledby="plan-title">
                    <h2 id="plan-title">{"Network plan"}</h2>
                    <p>{"The plan appears once the cluster is valid."}</p>
                    { self.view_map(None) }
                </section>
            };
        };
        let list = |items: &[String]| items.join(", ");
        let nodes = plan.nodes.iter().map(|node| html! {
            <tr>
                <th scope="row">{ node.name.clone() }</th>
                <td>{ list(&node.addresses.iter().map(ToString::to_string).collect::<Vec<_>>()) }</td>
                <td>{ node.roles.join(", ") }</td>
                <td>{ list(&node.pod_cidrs.iter().map(ToString::to_string).collect::<Vec<_>>()) }</td>
            </tr>
        });
        html! {
            <section class={classes!("card", "plan", (!self.plan_is_current()).then_some("stale"))} aria-labelledby="plan-title" id="plan">
                <h2 id="plan-title">{"Network plan"}</h2>
                { if self.plan_is_current() { html! {} } else {
                    html! { <p class="notice">{"Showing the last valid plan: fix the problems to update it."}</p> }
                } }
                <table class="facts">
                    <tr><th scope="row">{"Kubernetes"}</th><td>{ plan.kubernetes_version.clone() }</td></tr>
                    <tr><th scope="row">{"API endpoint"}</th><td>{ plan.control_plane_endpoint.clone() }</td></tr>
                    <tr><th scope="row">{"API service IP"}</th><td id="plan-apiserver-ip">{ list(&plan.apiserver_service_ips.iter().map(ToString::to_string).collect::<Vec<_>>()) }</td></tr>
                    <tr><th scope="row">{"DNS service IP"}</th><td id="plan-dns-ip">{ plan.dns_service_ip.to_string() }</td></tr>
                    <tr><th scope="row">{"Pod ranges"}</th><td>{ list(&plan.pod_subnets.iter().map(ToString::to_string).collect::<Vec<_>>()) }</td></tr>
                    <tr><th scope="row">{"Service ranges"}</th><td>{ list(&plan.service_subnets.iter().map(ToString::to_string).collect::<Vec<_>>()) }</td></tr>
                    <tr><th scope="row">{"Capacity"}</th><td>{ format!("{} nodes, {} pods per node", plan.max_nodes, plan.max_pods_per_node) }</td></tr>
                </table>
                <div class="scroll">
                    <table class="nodes-plan">
                        <caption>{"Nodes"}</caption>
                        <thead><tr><th scope="col">{"Node"}</th><th scope="col">{"Address"}</th><th scope="col">{"Roles"}</th><th scope="col">{"Pod range"}</th></tr></thead>
                        <tbody>{ for nodes }</tbody>
                    </table>
                </div>
                { self.view_map(Some(plan)) }
                <h3>{"NO_PROXY"}</h3>
                <pre class="no-proxy" id="plan-no-proxy">{ plan.no_proxy_value() }</pre>
            </section>
        }
    }

    fn view_map(&self, plan: Option<&NetworkPlan>) -> Html {
        let plan = plan.filter(|_| self.plan_is_current());
        let maps = address_map::address_map(&self.form, plan);
        html! {
            <div class="maps">
                <h3>{"Address space"}</h3>
                { for maps.iter().map(map_svg) }
                <p class="legend">
                    <span class="key pods"></span>{"pods "}
                    <span class="key node-range"></span>{"node pod ranges "}
                    <span class="key services"></span>{"services "}
                    <span class="key node"></span>{"nodes "}
                    <span class="key overlap"></span>{"overlap"}
                </p>
            </div>
        }
    }
}

fn map_svg(map: &FamilyMap) -> Html {
    const LABEL: f64 = 150.0;
    const ROW: f64 = 30.0;
    let rows = map.rows.len() as f64;
    let axis_y = rows * ROW + 4.0;
    let height = axis_y + 42.0;
    let width = LABEL + address_map::WIDTH + 10.0;
    let description = if map.overlaps.is_empty() {
        format!("{} address space: no overlap", map.family)
    } else {
        map.overlaps
            .iter()
            .map(|band| band.title.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    html! {
        <figure class="map">
            <figcaption>{ map.family }{ if map.overlaps.is_empty() { html! {} } else {
                html! { <strong class="overlap-text">{format!(" — {} overlap(s)", map.overlaps.len())}</strong> } } }</figcaption>
            <svg viewBox={format!("0 0 {width} {height}")} role="img" aria-label={description} class="address-map">
                { for map.rows.iter().enumerate().map(|(index, row)| {
                    let y = index as f64 * ROW;
                    html! {
                        <g>
                            <text x="0" y={(y + 20.0).to_string()} class="row-label">{ row.label }</text>
                            { for row.bars.iter().map(|bar| html! {
                                <g>
                                    <rect x={(LABEL + bar.x).to_string()} y={(y + 3.0).to_string()} width={bar.width.to_string()}
                                        height={(ROW - 6.0).to_string()} class={bar.class}><title>{ bar.title.clone() }</title></rect>
                                    { if bar.width > 8.5 * bar.label.len() as f64 { html! {
                                        <text x={(LABEL + bar.x + 3.0).to_string()} y={(y + 20.0).to_string()} class="bar-label">{ bar.label.clone() }</text>
                                    } } else { html! {} } }
                                </g>
                            }) }
                        </g>
                    }
                }) }
                { for map.overlaps.iter().map(|band| html! {
                    <rect x={(LABEL + band.x).to_string()} y="0" width={band.width.to_string()} height={axis_y.to_string()} class="overlap">
                        <title>{ band.title.clone() }</title></rect>
                }) }
                <line x1={LABEL.to_string()} x2={(LABEL + address_map::WIDTH).to_string()} y1={axis_y.to_string()} y2={axis_y.to_string()} class="axis"/>
                { for map.gaps.iter().map(|x| html! {
                    <text x={(LABEL + x).to_string()} y={(axis_y + 4.0).to_string()} class="gap">{"≈"}</text>
                }) }
                { for map.ticks.iter().enumerate().map(|(index, tick)| {
                    // Labels near the right edge end at their tick so they stay inside.
                    let anchor = if tick.x > address_map::WIDTH * 0.8 { "end" } else { "start" };
                    html! {
                        <text x={(LABEL + tick.x).to_string()} y={(axis_y + 17.0 + 15.0 * (index % 2) as f64).to_string()}
                            class="tick" text-anchor={anchor}>{ tick.label.clone() }</text>
                    }
                }) }
            </svg>
        </figure>
    }
}
