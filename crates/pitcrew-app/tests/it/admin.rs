//! Signing in and out, members and their roles, and API tokens.

use pitcrew_app::admin::{
    self, CreatedToken, NewMember, NewTokenRequest, SESSION_DAYS, TOKEN_PREFIX, add_member,
    create_token, list_tokens, login, logout, remove_member, revoke_token, session_actor, set_role,
    token_actor,
};
use pitcrew_app::{Actor, Db, ErrorKind};
use pitcrew_core::admin::{Role, Workspace};
use pitcrew_store::Engine;
use serde_json::json;

use crate::{NOW, contact, member, new_workspace, refused, with_role};

const PASSWORD: &str = "correct horse battery staple";

/// A member who can sign in with `PASSWORD` (one slow password hash).
async fn member_with_password(db: &Db, ws: &Workspace, email: &str, role: Role) -> i64 {
    add_member(
        db,
        &Actor::system(ws.id),
        NewMember {
            email: email.into(),
            name: "Someone".into(),
            role,
            password: Some(PASSWORD.into()),
        },
        NOW,
    )
    .await
    .expect("add member with a password")
    .user_id
}

async fn token(db: &Db, actor: &Actor, name: &str, role: Option<Role>) -> CreatedToken {
    create_token(
        db,
        actor,
        NewTokenRequest {
            name: name.into(),
            role,
        },
        NOW,
    )
    .await
    .expect("create token")
}

async fn acting(db: &Db, secret: &str) -> Option<Actor> {
    token_actor(db, secret, NOW).await.expect("resolve token")
}

/// Every column of every row of `table`, as text.
async fn all_text(db: &Db, table: &str) -> Vec<String> {
    let columns_sql = match db.engine() {
        Engine::Sqlite => format!("SELECT name FROM pragma_table_info('{table}')"),
        Engine::Postgres => format!(
            "SELECT column_name::text AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
    };
    let columns: Vec<String> = db
        .fetch_all(&columns_sql, vec![])
        .await
        .expect("list columns")
        .iter()
        .map(|r| r.text("name").expect("column name"))
        .collect();
    assert!(
        columns.len() > 3,
        "columns of {table} were read: {columns:?}"
    );
    let mut out = Vec::new();
    for c in columns {
        for r in db
            .fetch_all(
                &format!("SELECT CAST({c} AS TEXT) AS v FROM {table}"),
                vec![],
            )
            .await
            .expect("read column")
        {
            out.extend(r.opt_text("v").expect("text"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn login_with_the_right_password_opens_a_session_and_logout_ends_it() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        new_workspace(db, "globex").await;
        let ada = member_with_password(db, &ws, "ada@acme.com", Role::Marketer).await;

        let session = login(db, " Ada@ACME.com ", PASSWORD, None, NOW)
            .await
            .unwrap_or_else(|e| panic!("{engine:?}: sign in: {e}"));
        assert_eq!(session.workspace.slug, "acme", "{engine:?}");
        assert_eq!(session.actor.user_id, Some(ada), "{engine:?}");
        assert_eq!(session.actor.role, Role::Marketer, "{engine:?}");
        assert_eq!(session.actor.label, "ada@acme.com", "{engine:?}");
        assert_eq!(
            session.expires_at,
            NOW + SESSION_DAYS * 86_400_000,
            "{engine:?}"
        );

        let resolved = session_actor(db, &session.token, NOW + 1)
            .await
            .expect("resolve session")
            .unwrap_or_else(|| panic!("{engine:?}: the session resolves"));
        assert_eq!(resolved.workspace_id, ws.id, "{engine:?}");
        assert_eq!(resolved.user_id, Some(ada), "{engine:?}");
        assert_eq!(resolved.role, Role::Marketer, "{engine:?}");
        assert_eq!(resolved.token_id, None, "{engine:?}");
        assert_eq!(resolved.label, "ada@acme.com", "{engine:?}");

        let expired = session_actor(db, &session.token, session.expires_at)
            .await
            .expect("resolve");
        assert!(expired.is_none(), "{engine:?}: an expired session is over");
        let wrong = session_actor(db, &format!("{}x", session.token), NOW)
            .await
            .expect("resolve");
        assert!(wrong.is_none(), "{engine:?}: another value is no session");

        logout(db, &session.token).await.expect("logout");
        let after = session_actor(db, &session.token, NOW + 2)
            .await
            .expect("resolve");
        assert!(after.is_none(), "{engine:?}: logout ends the session");
        logout(db, &session.token)
            .await
            .expect("logging out twice is harmless");

        let e = refused(
            login(db, "ada@acme.com", PASSWORD, Some("globex"), NOW).await,
            "no_workspace",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Forbidden, "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_and_an_unknown_email_give_the_same_error() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        member_with_password(db, &ws, "ada@acme.com", Role::Viewer).await;
        let wrong = refused(
            login(
                db,
                "ada@acme.com",
                "correct horse battery stapler",
                None,
                NOW,
            )
            .await,
            "invalid_credentials",
            engine,
        );
        let unknown = refused(
            login(db, "nobody@acme.com", PASSWORD, None, NOW).await,
            "invalid_credentials",
            engine,
        );
        assert_eq!(wrong.kind, ErrorKind::Unauthenticated, "{engine:?}");
        assert_eq!(
            (wrong.kind, wrong.message.as_str(), wrong.field.as_deref()),
            (
                unknown.kind,
                unknown.message.as_str(),
                unknown.field.as_deref()
            ),
            "{engine:?}: nothing tells who has an account"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_created_token_acts_for_its_creator() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let admin_actor = member(db, &ws, "admin@acme.com", Role::Admin).await;
        let created = token(db, &admin_actor, "  CRM sync ", Some(Role::Marketer)).await;
        assert!(created.secret.starts_with(TOKEN_PREFIX), "{engine:?}");
        assert!(
            created.secret.len() > 40,
            "{engine:?}: the secret is long and random"
        );
        assert_eq!(created.token.name, "CRM sync", "{engine:?}");
        assert_eq!(created.token.role, Role::Marketer, "{engine:?}");
        assert_eq!(
            created.token.user_id,
            admin_actor.user_id.expect("id"),
            "{engine:?}"
        );
        assert!(
            created.secret.starts_with(&created.token.prefix) && created.token.prefix.len() < 16,
            "{engine:?}: the listed prefix is the start of the secret only"
        );

        let actor = acting(db, &created.secret)
            .await
            .unwrap_or_else(|| panic!("{engine:?}: the secret works"));
        assert_eq!(actor.workspace_id, ws.id, "{engine:?}");
        assert_eq!(actor.user_id, admin_actor.user_id, "{engine:?}");
        assert_eq!(actor.token_id, Some(created.token.id), "{engine:?}");
        assert_eq!(
            actor.role,
            Role::Marketer,
            "{engine:?}: the token's own role"
        );
        assert_eq!(actor.label, "token:CRM sync", "{engine:?}");
        contact(db, &actor, json!({"email": "ada@example.com"})).await;

        let listed = list_tokens(db, &admin_actor).await.expect("list");
        assert_eq!(listed.len(), 1, "{engine:?}");
        assert!(listed[0].last_used_at.is_some(), "{engine:?}: use is noted");

        refused(
            create_token(
                db,
                &admin_actor,
                NewTokenRequest {
                    name: " ".into(),
                    role: None,
                },
                NOW,
            )
            .await,
            "token_name_invalid",
            engine,
        );
        refused(
            create_token(
                db,
                &Actor::system(ws.id),
                NewTokenRequest {
                    name: "cli".into(),
                    role: None,
                },
                NOW,
            )
            .await,
            "forbidden",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_secret_is_stored_only_as_a_hash() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let admin_actor = member(db, &ws, "admin@acme.com", Role::Admin).await;
        let created = token(db, &admin_actor, "sync", None).await;
        acting(db, &created.secret).await.expect("works");
        let random_part = &created.secret[TOKEN_PREFIX.len()..];
        let stored = all_text(db, "api_tokens").await;
        assert!(
            stored.iter().any(|v| v == "sync"),
            "{engine:?}: the row was read: {stored:?}"
        );
        for v in &stored {
            assert!(
                !v.contains(&created.secret) && !v.contains(random_part),
                "{engine:?}: a column holds the secret: {v}"
            );
            assert!(
                !v.contains(&random_part[8..20]),
                "{engine:?}: a column holds more than the prefix of the secret: {v}"
            );
        }
        let audit = all_text(db, "audit_log").await;
        assert!(
            audit.iter().all(|v| !v.contains(random_part)),
            "{engine:?}: nor does the audit log"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_stops_working() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let mia = member(db, &ws, "mia@acme.com", Role::Marketer).await;
        let kept = token(db, &mia, "kept", None).await;
        let revoked = token(db, &mia, "old", None).await;
        revoke_token(db, &mia, revoked.token.id, NOW)
            .await
            .expect("revoke own token");
        assert!(
            acting(db, &revoked.secret).await.is_none(),
            "{engine:?}: the revoked token is refused"
        );
        assert!(
            acting(db, &kept.secret).await.is_some(),
            "{engine:?}: other tokens keep working"
        );
        let listed = list_tokens(db, &mia).await.expect("list");
        let old = listed
            .iter()
            .find(|t| t.id == revoked.token.id)
            .expect("a revoked token is still listed");
        assert!(old.revoked_at.is_some(), "{engine:?}");
        revoke_token(db, &mia, revoked.token.id, NOW)
            .await
            .expect("revoking twice is harmless");
        refused(
            revoke_token(db, &mia, 999_999, NOW).await,
            "token_not_found",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn text_that_is_not_a_live_token_is_no_actor() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let mia = member(db, &ws, "mia@acme.com", Role::Marketer).await;
        let created = token(db, &mia, "sync", None).await;
        let tampered = format!("{}0", created.secret);
        let without_prefix = created.secret[TOKEN_PREFIX.len()..].to_string();
        for text in [
            "",
            "pct_",
            "Bearer x",
            tampered.as_str(),
            without_prefix.as_str(),
            created.token.prefix.as_str(),
        ] {
            assert!(
                acting(db, text).await.is_none(),
                "{engine:?}: `{text}` is not a token"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_cannot_have_more_rights_than_its_creator() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let admin_actor = member(db, &ws, "admin@acme.com", Role::Admin).await;
        let mia = member(db, &ws, "mia@acme.com", Role::Marketer).await;
        let viewer = member(db, &ws, "vic@acme.com", Role::Viewer).await;
        for (who, role) in [
            (&admin_actor, Role::Owner),
            (&mia, Role::Builder),
            (&mia, Role::Admin),
            (&viewer, Role::Marketer),
        ] {
            let e = refused(
                create_token(
                    db,
                    who,
                    NewTokenRequest {
                        name: "too strong".into(),
                        role: Some(role),
                    },
                    NOW,
                )
                .await,
                "forbidden",
                engine,
            );
            assert_eq!(
                e.kind,
                ErrorKind::Forbidden,
                "{engine:?}: {} asking for {role}",
                who.label
            );
        }
        let own = token(db, &viewer, "read only", None).await;
        assert_eq!(
            own.token.role,
            Role::Viewer,
            "{engine:?}: a token defaults to its creator's role"
        );
        let weaker = token(db, &admin_actor, "weaker", Some(Role::Viewer)).await;
        let actor = acting(db, &weaker.secret).await.expect("live");
        assert_eq!(actor.role, Role::Viewer, "{engine:?}");
        refused(
            pitcrew_app::record::create_record(
                db,
                &actor,
                crate::CONTACT,
                crate::input(json!({})),
                NOW,
            )
            .await,
            "forbidden",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_acts_with_at_most_its_creators_current_role() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let owner = member(db, &ws, "owner@acme.com", Role::Owner).await;
        let ada = member(db, &ws, "ada@acme.com", Role::Admin).await;
        let ada_id = ada.user_id.expect("id");
        let created = token(db, &ada, "admin token", None).await;
        assert_eq!(created.token.role, Role::Admin, "{engine:?}");

        set_role(db, &owner, ada_id, Role::Viewer, NOW)
            .await
            .expect("demote");
        let actor = acting(db, &created.secret).await.expect("still live");
        assert_eq!(
            actor.role,
            Role::Viewer,
            "{engine:?}: the token follows its creator's demotion"
        );
        refused(
            pitcrew_app::record::create_record(
                db,
                &actor,
                crate::CONTACT,
                crate::input(json!({})),
                NOW,
            )
            .await,
            "forbidden",
            engine,
        );

        set_role(db, &owner, ada_id, Role::Builder, NOW)
            .await
            .expect("promote a little");
        let actor = acting(db, &created.secret).await.expect("live");
        assert_eq!(actor.role, Role::Builder, "{engine:?}");
        set_role(db, &owner, ada_id, Role::Owner, NOW)
            .await
            .expect("promote to owner");
        let actor = acting(db, &created.secret).await.expect("live");
        assert_eq!(
            actor.role,
            Role::Admin,
            "{engine:?}: never above the token's own role"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_a_member_revokes_their_tokens_and_ends_their_sessions() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let other = new_workspace(db, "globex").await;
        let admin_actor = member(db, &ws, "admin@acme.com", Role::Admin).await;
        let mia_id = member_with_password(db, &ws, "mia@acme.com", Role::Builder).await;
        let mia_elsewhere = member(db, &other, "mia@acme.com", Role::Builder).await;
        let session = login(db, "mia@acme.com", PASSWORD, Some("acme"), NOW)
            .await
            .expect("sign in");
        let mia = session.actor.clone();
        let created = token(db, &mia, "mia's sync", None).await;
        let elsewhere = token(db, &mia_elsewhere, "globex sync", None).await;
        let other_session = login(db, "mia@acme.com", PASSWORD, Some("globex"), NOW)
            .await
            .expect("sign in to the other workspace");

        set_role(db, &admin_actor, mia_id, Role::Marketer, NOW)
            .await
            .expect("role change");
        let resolved = session_actor(db, &session.token, NOW)
            .await
            .expect("resolve")
            .expect("live session");
        assert_eq!(
            resolved.role,
            Role::Marketer,
            "{engine:?}: a session acts with the member's current role"
        );

        remove_member(db, &admin_actor, mia_id, NOW)
            .await
            .expect("remove member");
        assert!(
            session_actor(db, &session.token, NOW)
                .await
                .expect("resolve")
                .is_none(),
            "{engine:?}: their session ended"
        );
        assert!(
            acting(db, &created.secret).await.is_none(),
            "{engine:?}: their token stopped working"
        );
        let listed = list_tokens(db, &admin_actor).await.expect("list");
        let revoked = listed
            .iter()
            .find(|t| t.id == created.token.id)
            .expect("listed");
        assert!(
            revoked.revoked_at.is_some(),
            "{engine:?}: and is marked revoked"
        );

        assert!(
            acting(db, &elsewhere.secret).await.is_some(),
            "{engine:?}: their token in another workspace still works"
        );
        assert!(
            session_actor(db, &other_session.token, NOW)
                .await
                .expect("resolve")
                .is_some(),
            "{engine:?}: and so does their session there"
        );
        refused(
            login(db, "mia@acme.com", PASSWORD, Some("acme"), NOW).await,
            "no_workspace",
            engine,
        );
        refused(
            remove_member(db, &admin_actor, mia_id, NOW).await,
            "member_not_found",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_owner_cannot_be_removed_or_demoted() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let system = Actor::system(ws.id);
        let olga = member(db, &ws, "olga@acme.com", Role::Owner).await;
        let olga_id = olga.user_id.expect("id");
        let e = refused(
            set_role(db, &system, olga_id, Role::Admin, NOW).await,
            "last_owner",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Conflict, "{engine:?}");
        refused(
            remove_member(db, &system, olga_id, NOW).await,
            "last_owner",
            engine,
        );
        let members = admin::list_members(db, &system).await.expect("members");
        assert_eq!(members.len(), 1, "{engine:?}");
        assert_eq!(members[0].role, Role::Owner, "{engine:?}: still the owner");

        let oscar = member(db, &ws, "oscar@acme.com", Role::Owner).await;
        set_role(db, &oscar, olga_id, Role::Admin, NOW)
            .await
            .unwrap_or_else(|e| panic!("{engine:?}: with two owners one may step down: {e}"));
        let oscar_id = oscar.user_id.expect("id");
        refused(
            remove_member(db, &system, oscar_id, NOW).await,
            "last_owner",
            engine,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_cannot_grant_owner() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        member(db, &ws, "olga@acme.com", Role::Owner).await;
        let admin_actor = member(db, &ws, "admin@acme.com", Role::Admin).await;
        let mia = member(db, &ws, "mia@acme.com", Role::Marketer).await;
        let mia_id = mia.user_id.expect("id");
        refused(
            set_role(db, &admin_actor, mia_id, Role::Owner, NOW).await,
            "forbidden",
            engine,
        );
        pitcrew_store::admin::create_user(db.conn(), "new@acme.com", "New", "no-password", NOW)
            .await
            .expect("user");
        refused(
            add_member(
                db,
                &admin_actor,
                NewMember {
                    email: "new@acme.com".into(),
                    name: String::new(),
                    role: Role::Owner,
                    password: None,
                },
                NOW,
            )
            .await,
            "forbidden",
            engine,
        );
        let olga_id = admin::list_members(db, &admin_actor)
            .await
            .expect("members")
            .iter()
            .find(|m| m.email == "olga@acme.com")
            .expect("olga")
            .user_id;
        refused(
            set_role(db, &admin_actor, olga_id, Role::Viewer, NOW).await,
            "forbidden",
            engine,
        );
        refused(
            remove_member(db, &admin_actor, olga_id, NOW).await,
            "forbidden",
            engine,
        );
        let promoted = set_role(db, &admin_actor, mia_id, Role::Admin, NOW)
            .await
            .expect("an admin may make admins");
        assert_eq!(promoted.role, Role::Admin, "{engine:?}");
        let members = admin::list_members(db, &admin_actor)
            .await
            .expect("members");
        let roles: Vec<(&str, Role)> = members.iter().map(|m| (m.email.as_str(), m.role)).collect();
        assert_eq!(
            roles,
            [
                ("admin@acme.com", Role::Admin),
                ("mia@acme.com", Role::Admin),
                ("olga@acme.com", Role::Owner),
            ],
            "{engine:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nobody_changes_their_own_role() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let olga = member(db, &ws, "olga@acme.com", Role::Owner).await;
        member(db, &ws, "oscar@acme.com", Role::Owner).await;
        let admin_actor = member(db, &ws, "admin@acme.com", Role::Admin).await;
        for (who, role) in [
            (&olga, Role::Admin),
            (&olga, Role::Owner),
            (&admin_actor, Role::Viewer),
        ] {
            refused(
                set_role(db, who, who.user_id.expect("id"), role, NOW).await,
                "forbidden",
                engine,
            );
        }
        let roles: Vec<Role> = admin::list_members(db, &olga)
            .await
            .expect("members")
            .iter()
            .map(|m| m.role)
            .collect();
        assert_eq!(roles, [Role::Admin, Role::Owner, Role::Owner], "{engine:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_manage_members() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let mia = member(db, &ws, "mia@acme.com", Role::Marketer).await;
        let builder = member(db, &ws, "bo@acme.com", Role::Builder).await;
        let new = || NewMember {
            email: "mia@acme.com".into(),
            name: String::new(),
            role: Role::Viewer,
            password: None,
        };
        refused(
            add_member(db, &builder, new(), NOW).await,
            "forbidden",
            engine,
        );
        refused(
            set_role(db, &builder, mia.user_id.expect("id"), Role::Viewer, NOW).await,
            "forbidden",
            engine,
        );
        refused(
            remove_member(db, &builder, mia.user_id.expect("id"), NOW).await,
            "forbidden",
            engine,
        );
        let e = refused(
            add_member(db, &Actor::system(ws.id), new(), NOW).await,
            "member_exists",
            engine,
        );
        assert_eq!(e.kind, ErrorKind::Conflict, "{engine:?}");
        let e = refused(
            add_member(
                db,
                &Actor::system(ws.id),
                NewMember {
                    email: "fresh@acme.com".into(),
                    password: None,
                    ..new()
                },
                NOW,
            )
            .await,
            "password_required",
            engine,
        );
        assert_eq!(e.field.as_deref(), Some("password"), "{engine:?}");
        refused(
            add_member(
                db,
                &Actor::system(ws.id),
                NewMember {
                    email: "fresh@acme.com".into(),
                    password: Some("short".into()),
                    ..new()
                },
                NOW,
            )
            .await,
            "password_too_short",
            engine,
        );
        refused(
            add_member(
                db,
                &Actor::system(ws.id),
                NewMember {
                    email: "not an email".into(),
                    ..new()
                },
                NOW,
            )
            .await,
            "email_invalid",
            engine,
        );
        refused(
            set_role(db, &Actor::system(ws.id), 999_999, Role::Viewer, NOW).await,
            "member_not_found",
            engine,
        );
        let members = admin::list_members(db, &with_role(&ws, Role::Viewer))
            .await
            .expect("everyone sees the members");
        assert_eq!(
            members.len(),
            2,
            "{engine:?}: refused additions added nobody"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn members_see_their_own_tokens_and_admins_see_all() {
    for t in pitcrew_testkit::each_engine().await {
        let (engine, db) = (t.engine(), &t.db);
        let ws = new_workspace(db, "acme").await;
        let admin_actor = member(db, &ws, "admin@acme.com", Role::Admin).await;
        let mia = member(db, &ws, "mia@acme.com", Role::Marketer).await;
        let max = member(db, &ws, "max@acme.com", Role::Marketer).await;
        let mias = token(db, &mia, "mia", None).await;
        let maxs = token(db, &max, "max", None).await;

        let seen: Vec<i64> = list_tokens(db, &mia)
            .await
            .expect("list")
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(seen, [mias.token.id], "{engine:?}: a member sees their own");
        let seen: Vec<i64> = list_tokens(db, &admin_actor)
            .await
            .expect("list")
            .iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(
            seen,
            [mias.token.id, maxs.token.id],
            "{engine:?}: an admin sees all"
        );

        refused(
            revoke_token(db, &mia, maxs.token.id, NOW).await,
            "token_not_found",
            engine,
        );
        assert!(
            acting(db, &maxs.secret).await.is_some(),
            "{engine:?}: someone else's token survives"
        );
        revoke_token(db, &admin_actor, maxs.token.id, NOW)
            .await
            .expect("an admin revokes any token");
        assert!(acting(db, &maxs.secret).await.is_none(), "{engine:?}");
    }
}
