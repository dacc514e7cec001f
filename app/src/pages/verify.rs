use leptos::prelude::*;
use leptos_router::components::A;

use super::{Card, FieldMessage};
use crate::api::{PendingView, ResendCode, VerifyCode, pending_challenge};
use crate::error::{AppError, Field};

#[component]
pub fn Verify() -> impl IntoView {
    let verify = ServerAction::<VerifyCode>::new();
    let resend = ServerAction::<ResendCode>::new();
    // A resend goes to the same place, so this is read once per visit.
    let pending = Resource::new(|| (), |_| pending_challenge());

    view! {
        <Suspense fallback=|| view! { <Card title="Enter your code"><p>"Loading…"</p></Card> }>
            {move || Suspend::new(async move {
                match pending.await {
                    Ok(Some(p)) => view! { <CodeForm pending=p verify resend/> }.into_any(),
                    Ok(None) => view! { <NoChallenge/> }.into_any(),
                    Err(e) => view! {
                        <Card title="Enter your code">
                            <p class="field-error" role="alert">{e.to_string()}</p>
                        </Card>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn NoChallenge() -> impl IntoView {
    view! {
        <Card title="Enter your code">
            <p>{AppError::NoChallenge.to_string()}</p>
            <p><A href="/sign-in" attr:class="button primary">"Start again"</A></p>
        </Card>
    }
}

#[component]
fn CodeForm(pending: PendingView, verify: ServerAction<VerifyCode>, resend: ServerAction<ResendCode>) -> impl IntoView {
    let verify_error = Signal::derive(move || verify.value().get().and_then(Result::err));
    let resend_error = Signal::derive(move || resend.value().get().and_then(Result::err));
    let resent = move || matches!(resend.value().get(), Some(Ok(_)));
    // Only the newest outcome speaks: a successful resend clears an old
    // "wrong code", and a new attempt clears the resend notice.
    Effect::new(move |_| {
        if matches!(resend.value().get(), Some(Ok(_))) {
            verify.value().set(None);
        }
    });
    Effect::new(move |_| {
        if verify.pending().get() {
            resend.value().set(None);
        }
    });

    // Seconds until "Send a new code" works again. The countdown runs only
    // once the page is hydrated; without JavaScript the button stays usable
    // and the server answers with the wait in words.
    let wait = RwSignal::new(pending.resend_in_secs);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    Effect::new(move |_| match resend.value().get() {
        Some(Ok(next)) => wait.set(next),
        Some(Err(e)) => {
            if let Some(secs) = e.retry_after() {
                wait.set(secs);
            }
        }
        None => {}
    });
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(
            move || wait.update(|w| *w = w.saturating_sub(1)),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    let counting = move || hydrated.get() && wait.get() > 0;

    let invalid = move || verify_error.get().is_some_and(|e| e.field() == Field::Code);
    let other_way = if pending.channel == "sms" { "/sign-in?with=phone" } else { "/sign-in" };
    let other_label = if pending.channel == "sms" { "Use a different number" } else { "Use a different email address" };
    let (inputmode, pattern) = if pending.numeric { ("numeric", "[0-9 -]*") } else { ("text", "[A-Za-z0-9 -]*") };
    let hint = format!(
        "We sent a {}-{} code to {}.",
        pending.code_length,
        if pending.numeric { "digit" } else { "character" },
        pending.masked_destination
    );

    view! {
        <Card title="Enter your code">
            <p class="lede" id="code-hint">{hint}</p>
            <p class="notice" role="status" aria-live="polite">
                {move || resent().then_some("A new code is on its way. Earlier codes no longer work.")}
            </p>
            <ActionForm action=verify attr:novalidate=true attr:class="form">
                <div class="field">
                    <label for="code">"Code"</label>
                    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode=inputmode
                        pattern=pattern maxlength="24" required autofocus spellcheck="false" autocapitalize="characters"
                        class="code-input" aria-describedby="code-hint code-error"
                        aria-invalid=move || invalid().then_some("true")/>
                    <FieldMessage id="code-error" field=Field::Code error=verify_error/>
                </div>
                <FieldMessage id="form-error" field=Field::Form error=verify_error/>
                <button type="submit" class="primary" disabled=move || verify.pending().get()>
                    {move || if verify.pending().get() { "Checking…" } else { "Sign in" }}
                </button>
            </ActionForm>
            <div class="secondary-actions">
                <ActionForm action=resend attr:class="inline-form">
                    <button type="submit" class="link-button" disabled=move || resend.pending().get() || counting()>
                        {move || if counting() { format!("Send a new code ({} s)", wait.get()) } else { "Send a new code".to_owned() }}
                    </button>
                </ActionForm>
                <A href=other_way attr:class="link">{other_label}</A>
            </div>
            <p id="resend-error" class="field-error" role="alert" aria-live="assertive">
                {move || resend_error.get().map(|e| e.to_string())}
            </p>
        </Card>
    }
}
