use leptos::prelude::*;
use leptos_router::components::A;

use super::{Card, FieldMessage};
use crate::api::{PendingView, ResendCode, SwitchToEmail, VerifyCode, pending_challenge};
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
    let switch = ServerAction::<SwitchToEmail>::new();
    let verify_error = Signal::derive(move || verify.value().get().and_then(Result::err));
    let resend_error = Signal::derive(move || resend.value().get().and_then(Result::err));
    let switch_error = Signal::derive(move || switch.value().get().and_then(Result::err));
    let switch_invalid = move || switch_error.get().is_some();
    // Where the code went; a switch to email changes it in place.
    let current = RwSignal::new(pending.clone());
    let by_sms = move || current.with(|p| p.channel == "sms");
    let resent = move || matches!(resend.value().get(), Some(Ok(_)));
    // Only the newest outcome speaks: a successful resend clears an old
    // "wrong code", and a new attempt clears the resend and switch notices.
    Effect::new(move |_| {
        if matches!(resend.value().get(), Some(Ok(_))) {
            verify.value().set(None);
        }
    });
    Effect::new(move |_| {
        if verify.pending().get() {
            resend.value().set(None);
            switch.value().set(None);
        }
    });

    // Seconds until "Send a new code" works again. The countdown runs only
    // once the page is hydrated; without JavaScript the button stays usable
    // and the server answers with the wait in words.
    let wait = RwSignal::new(pending.resend_in_secs);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    Effect::new(move |_| {
        if let Some(Ok(view)) = switch.value().get() {
            wait.set(view.resend_in_secs);
            current.set(view);
            verify.value().set(None);
            resend.value().set(None);
        }
    });
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
    let other_way = move || if by_sms() { "/sign-in?with=phone" } else { "/sign-in" }.to_owned();
    let other_label = move || if by_sms() { "Use a different number" } else { "Use a different email address" };
    let (inputmode, pattern) = if pending.numeric { ("numeric", "[0-9 -]*") } else { ("text", "[A-Za-z0-9 -]*") };
    let hint = move || {
        current.with(|p| {
            format!(
                "We sent a {}-{} code to {}.",
                p.code_length,
                if p.numeric { "digit" } else { "character" },
                p.masked_destination
            )
        })
    };
    // A text that could not be sent opens the email option by itself.
    let sms_failed = move || resend_error.get().is_some_and(|e| e.suggests_email());

    view! {
        <Card title="Enter your code">
            <p class="lede" id="code-hint">{hint}</p>
            <p class="notice" role="status" aria-live="polite">
                {move || resent().then_some("A new code is on its way. Earlier codes no longer work.")}
                {move || matches!(switch.value().get(), Some(Ok(_))).then_some("A code is on its way to your email.")}
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
            // Without JavaScript <details> still opens, and the form posts
            // and comes back to this page showing the new destination.
            <Show when=by_sms>
                <details class="switch-channel" open=move || sms_failed() || switch_invalid()>
                    <summary>"Send the code by email instead"</summary>
                    <ActionForm action=switch attr:novalidate=true attr:class="form">
                        <div class="field">
                            <label for="switch-email">"Email address"</label>
                            <input id="switch-email" name="email" type="email" autocomplete="email" spellcheck="false"
                                autocapitalize="none" required maxlength="254" aria-describedby="switch-error"
                                aria-invalid=move || switch_invalid().then_some("true")/>
                            <p id="switch-error" class="field-error" role="alert" aria-live="assertive">
                                {move || switch_error.get().map(|e| e.to_string())}
                            </p>
                        </div>
                        <button type="submit" class="secondary" disabled=move || switch.pending().get()>
                            {move || if switch.pending().get() { "Sending…" } else { "Email me a code" }}
                        </button>
                    </ActionForm>
                </details>
            </Show>
        </Card>
    }
}
