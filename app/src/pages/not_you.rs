use leptos::prelude::*;

use super::{Card, locale, words};
use crate::api::{Notice, ReportNotMe, ReportView, report_info};
use crate::domain::AppError;
use crate::i18n::{td, td_string};
use crate::islands::NotMeButton;

/// Where a message's "Not you?" link lands (the server moved its token into
/// a cookie). Opening it changes nothing; the one button reports the
/// sign-in. Without signing in, and once.
#[component]
pub fn NotYou() -> impl IntoView {
    let l = locale();
    view! {
        <Suspense fallback=move || view! { <Card title=td_string!(l, not_you.title)><p>{td_string!(l, loading)}</p></Card> }>
            {Suspend::new(async move {
                match report_info().await {
                    Ok((Some(Notice::Reported), _)) => view! { <Thanks ended=false/> }.into_any(),
                    Ok((Some(Notice::ReportedEndedSession), _)) => view! { <Thanks ended=true/> }.into_any(),
                    Ok((Some(_), _)) => view! { <AlreadyReported/> }.into_any(),
                    Ok((None, Some(r))) if r.already => view! { <AlreadyReported/> }.into_any(),
                    Ok((None, Some(r))) => view! { <Ask r/> }.into_any(),
                    Ok((None, None)) => view! {
                        <Card title=td_string!(l, not_you.unusable_title)>
                            <p>{words(&AppError::ReportUnusable)}</p>
                        </Card>
                    }
                        .into_any(),
                    Err(e) => view! {
                        <Card title=td_string!(l, not_you.title)>
                            <p class="field-error" role="alert">{words(&e)}</p>
                        </Card>
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Ask(r: ReportView) -> impl IntoView {
    let report = ServerAction::<ReportNotMe>::new();
    let error = report.value().get_untracked().and_then(Result::err);
    let l = locale();
    let browser = r.from_browser.unwrap_or_else(|| td_string!(l, link.unknown_browser).to_owned());
    let ip = r.from_ip.map(|ip| view! { <dt>{td_string!(l, link.address)}</dt><dd>{ip}</dd> });
    let destination = r.masked_destination;
    let asked = if r.by_sms {
        td!(l, not_you.asked_by_sms, destination = move || destination.clone(), <strong> = |c: ChildrenFn| view! { <strong>{c()}</strong> })
            .into_any()
    } else {
        td!(l, not_you.asked_by_email, destination = move || destination.clone(), <strong> = |c: ChildrenFn| view! { <strong>{c()}</strong> })
            .into_any()
    };
    view! {
        <Card title=td_string!(l, not_you.title)>
            <p class="lede">{asked}</p>
            <dl class="request">
                <dt>{td_string!(l, link.browser)}</dt><dd>{browser}</dd>
                {ip}
                <dt>{td_string!(l, link.when)}</dt><dd>{r.requested_at}</dd>
            </dl>
            <p>{td_string!(l, not_you.explain)}</p>
            <p id="form-error" class="field-error" role="alert" aria-live="assertive">{error.map(|e| words(&e))}</p>
            <ActionForm action=report attr:class="form">
                <NotMeButton class="primary"/>
            </ActionForm>
            <p class="hint">{td_string!(l, not_you.if_you)}</p>
        </Card>
    }
}

/// `ended`: the code had been used before the report, and the session it
/// opened was ended.
#[component]
fn Thanks(ended: bool) -> impl IntoView {
    let l = locale();
    let what = if ended { td_string!(l, not_you.thanks_ended) } else { td_string!(l, not_you.thanks_stopped) };
    view! {
        <Card title=td_string!(l, not_you.thanks_title)>
            <p class="lede" role="status">{what}</p>
            <p>{td_string!(l, not_you.thanks_next)}</p>
        </Card>
    }
}

#[component]
fn AlreadyReported() -> impl IntoView {
    let l = locale();
    view! {
        <Card title=td_string!(l, not_you.already_title)>
            <p class="lede" role="status">{td_string!(l, not_you.already_body)}</p>
        </Card>
    }
}
