use leptos::prelude::*;

use super::Card;
use crate::api::{Notice, ReportNotMe, ReportView, report_info};
use crate::domain::AppError;
use crate::islands::NotMeButton;

/// Where a message's "Not you?" link lands (the server moved its token into
/// a cookie). Opening it changes nothing; the one button reports the
/// sign-in. Without signing in, and once.
#[component]
pub fn NotYou() -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <Card title="Didn't ask to sign in?"><p>"Loading…"</p></Card> }>
            {Suspend::new(async move {
                match report_info().await {
                    Ok((Some(Notice::Reported), _)) => view! { <Thanks ended=false/> }.into_any(),
                    Ok((Some(Notice::ReportedEndedSession), _)) => view! { <Thanks ended=true/> }.into_any(),
                    Ok((Some(_), _)) => view! { <AlreadyReported/> }.into_any(),
                    Ok((None, Some(r))) if r.already => view! { <AlreadyReported/> }.into_any(),
                    Ok((None, Some(r))) => view! { <Ask r/> }.into_any(),
                    Ok((None, None)) => view! {
                        <Card title="This link can't be used">
                            <p>{AppError::ReportUnusable.to_string()}</p>
                        </Card>
                    }
                        .into_any(),
                    Err(e) => view! {
                        <Card title="Didn't ask to sign in?">
                            <p class="field-error" role="alert">{e.to_string()}</p>
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
    let by = if r.by_sms { "text message" } else { "email" };
    let browser = r.from_browser.unwrap_or_else(|| "A browser that didn't say which".to_owned());
    let ip = r.from_ip.map(|ip| view! { <dt>"Address"</dt><dd>{ip}</dd> });
    view! {
        <Card title="Didn't ask to sign in?">
            <p class="lede">
                "Someone asked for a sign-in code by " {by} " for " <strong>{r.masked_destination}</strong> "."
            </p>
            <dl class="request">
                <dt>"Browser"</dt><dd>{browser}</dd>
                {ip}
                <dt>"When"</dt><dd>{r.requested_at}</dd>
            </dl>
            <p>
                "If that wasn't you, say so: the code and link in that message stop working, and for the next "
                "24 hours new codes go only to browsers that have signed in to this account before."
            </p>
            <p id="form-error" class="field-error" role="alert" aria-live="assertive">{error.map(|e| e.to_string())}</p>
            <ActionForm action=report attr:class="form">
                <NotMeButton class="primary"/>
            </ActionForm>
            <p class="hint">"If it was you, close this page; nothing changes."</p>
        </Card>
    }
}

/// `ended`: the code had been used before the report, and the session it
/// opened was ended.
#[component]
fn Thanks(ended: bool) -> impl IntoView {
    let what = if ended {
        "That code had already been used to sign in. That session has been signed out, and no other code or link for this address works any more."
    } else {
        "That sign-in has been stopped: its code and link no longer work."
    };
    view! {
        <Card title="Thanks for telling us">
            <p class="lede" role="status">{what}</p>
            <p>
                "For the next 24 hours, new codes for this address go only to browsers that have signed in to it "
                "before, and fewer of them. Nobody can sign in without a code, so there is nothing else you need to do."
            </p>
        </Card>
    }
}

#[component]
fn AlreadyReported() -> impl IntoView {
    view! {
        <Card title="Already reported">
            <p class="lede" role="status">"This sign-in was reported already. Nothing more to do."</p>
        </Card>
    }
}
