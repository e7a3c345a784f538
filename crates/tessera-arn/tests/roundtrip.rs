//! Property tests: ARN and entity parse/print round trips, unique ID shape, and parser robustness.

use proptest::prelude::*;
use tessera_arn::{
    Arn, IamEntity, IdPrefix, SeededRandom, access_key_id, prefix_of, unique_id, validate_federation_name,
    validate_path, validate_role_name, validate_role_session_name, validate_user_name,
};

const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Well-formed ARN parts: identifiers for partition and service, anything but `:` for region
/// and account, and a non-empty resource that may hold colons, slashes and any character.
fn arn_parts() -> impl Strategy<Value = Arn> {
    ("[a-z0-9-]{1,12}", "[a-z0-9-]{1,16}", "[^:]{0,12}", "[^:]{0,14}", "(?s).{1,48}").prop_map(
        |(partition, service, region, account, resource)| Arn { partition, service, region, account, resource },
    )
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_+=,.@-]{1,64}"
}

fn session_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_+=,.@-]{2,64}"
}

/// `/` or `/…/` with printable ASCII in between, slashes included.
fn path() -> impl Strategy<Value = String> {
    prop_oneof![Just("/".to_owned()), "/[!-~]{1,40}/", "(/[A-Za-z0-9_.-]{1,8}){1,4}/",]
}

fn entity() -> impl Strategy<Value = IamEntity> {
    let pn = || (path(), name());
    prop_oneof![
        Just(IamEntity::Root),
        pn().prop_map(|(path, name)| IamEntity::User { path, name }),
        pn().prop_map(|(path, name)| IamEntity::Group { path, name }),
        pn().prop_map(|(path, name)| IamEntity::Role { path, name }),
        pn().prop_map(|(path, name)| IamEntity::Policy { path, name }),
        pn().prop_map(|(path, name)| IamEntity::InstanceProfile { path, name }),
        pn().prop_map(|(path, name)| IamEntity::Mfa { path, name }),
        "[a-z0-9.-]{1,30}(/[A-Za-z0-9._~-]{1,10}){0,3}".prop_map(|url| IamEntity::OidcProvider { url }),
        "[A-Za-z0-9._-]{1,128}".prop_map(|name| IamEntity::SamlProvider { name }),
        (name(), session_name())
            .prop_map(|(role_name, session_name)| IamEntity::AssumedRole { role_name, session_name }),
        "[A-Za-z0-9_+=,.@-]{2,32}".prop_map(|name| IamEntity::FederatedUser { name }),
    ]
}

fn partition() -> impl Strategy<Value = String> {
    prop_oneof![Just("aws".to_owned()), Just("aws-cn".to_owned()), Just("aws-us-gov".to_owned()), "[a-z0-9-]{1,12}",]
}

fn account_for(entity: &IamEntity) -> BoxedStrategy<String> {
    if matches!(entity, IamEntity::Policy { .. }) {
        prop_oneof![Just("aws".to_owned()), "[0-9]{12}"].boxed()
    } else {
        "[0-9]{12}".boxed()
    }
}

proptest! {
    #[test]
    fn arn_parts_round_trip(arn in arn_parts()) {
        let printed = arn.to_string();
        prop_assert_eq!(Arn::parse(&printed), Ok(arn));
    }

    #[test]
    fn entities_round_trip(
        (partition, account, entity) in (partition(), entity())
            .prop_flat_map(|(p, e)| (Just(p), account_for(&e), Just(e)))
    ) {
        // The generators only produce values the name rules accept.
        match &entity {
            IamEntity::User { path, name } => {
                prop_assert!(validate_path(path).is_ok());
                prop_assert!(validate_user_name(name).is_ok());
            }
            IamEntity::AssumedRole { role_name, session_name } => {
                prop_assert!(validate_role_name(role_name).is_ok());
                prop_assert!(validate_role_session_name(session_name).is_ok());
            }
            IamEntity::FederatedUser { name } => {
                prop_assert!(validate_federation_name(name).is_ok());
            }
            _ => {}
        }

        let arn = Arn::iam(&partition, &account, &entity);
        prop_assert_eq!(arn.region.as_str(), "");
        prop_assert_eq!(arn.entity(), Ok(entity.clone()));
        let reparsed = Arn::parse(&arn.to_string()).unwrap();
        prop_assert_eq!(&reparsed, &arn);
        prop_assert_eq!(reparsed.entity(), Ok(entity));
    }

    #[test]
    fn unique_ids_are_well_formed(seed in any::<u64>(), index in 0..IdPrefix::ALL.len()) {
        let prefix = IdPrefix::ALL[index];
        let mut rng = SeededRandom::new(seed);
        let id = unique_id(prefix, &mut rng);
        prop_assert_eq!(id.len(), 21);
        prop_assert!(id.starts_with(prefix.as_str()));
        prop_assert!(id[4..].chars().all(|c| ALPHABET.contains(c)), "{}", id);
        prop_assert_eq!(prefix_of(&id), Some(prefix));

        let key = access_key_id(seed % 2 == 0, &mut rng);
        prop_assert_eq!(key.len(), 20);
        prop_assert!(key[4..].chars().all(|c| ALPHABET.contains(c)), "{}", key);
        let expected = if seed % 2 == 0 { IdPrefix::TemporaryAccessKey } else { IdPrefix::AccessKey };
        prop_assert_eq!(prefix_of(&key), Some(expected));
    }

    #[test]
    fn parse_never_panics(s in "(?s).{0,80}") {
        if let Ok(arn) = Arn::parse(&s) {
            prop_assert_eq!(arn.to_string(), s);
            let _ = arn.entity();
        }
    }

    #[test]
    fn parse_never_panics_near_arns(s in "arn:[a-z:/*-]{0,10}(?s).{0,40}") {
        if let Ok(arn) = Arn::parse(&s) {
            prop_assert_eq!(arn.to_string(), s);
            if let Ok(entity) = arn.entity() {
                prop_assert_eq!(Arn::iam(&arn.partition, &arn.account, &entity), arn);
            }
        }
    }

    #[test]
    fn iam_arns_from_fragments_never_panic(
        service in prop_oneof![Just("iam"), Just("sts")],
        account in prop_oneof![Just("123456789012".to_owned()), Just("aws".to_owned()), "[0-9a-z*]{0,13}"],
        kind in prop_oneof![
            Just("root"), Just("user"), Just("group"), Just("role"), Just("policy"),
            Just("instance-profile"), Just("mfa"), Just("oidc-provider"),
            Just("saml-provider"), Just("assumed-role"), Just("federated-user"),
        ],
        tail in "[/a-zA-Z0-9 *:.@é]{0,20}",
    ) {
        let s = format!("arn:aws:{service}::{account}:{kind}{tail}");
        let arn = Arn::parse(&s).unwrap();
        if let Ok(entity) = arn.entity() {
            prop_assert_eq!(Arn::iam("aws", &account, &entity), arn);
        }
    }
}
