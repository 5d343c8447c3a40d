//! infra/template.yaml held against the functions' configuration: the template must set
//! only variables a function reads, and a function may read a variable the template does
//! not set only when it has a documented default. The deployed stack once set
//! `CHURN_FANOUT_ABOVE` for a function that never read it, so the Distributed Map never
//! ran; this test fails on that.

use std::collections::{BTreeMap, BTreeSet};

use churn_app::config::{ConfigError, Env, Variable};
use yaml_rust2::{Yaml, YamlLoader};

fn template() -> Yaml {
    let path = format!(
        "{}/../infra/template.yaml",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("infra/template.yaml");
    YamlLoader::load_from_str(&text)
        .expect("the template is YAML")
        .into_iter()
        .next()
        .expect("one document")
}

/// The names of an `Environment: Variables:` mapping, with their values (a `!Ref` to a
/// parameter is that parameter's default; other values as written).
fn variables(environment: &Yaml, parameters: &Yaml) -> BTreeMap<String, String> {
    let Some(map) = environment["Variables"].as_hash() else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(name, value)| {
            let name = name.as_str().expect("a variable name").to_owned();
            let text = match value {
                Yaml::String(s) => s.clone(),
                Yaml::Integer(n) => n.to_string(),
                other => format!("{other:?}"),
            };
            let value = match &parameters[text.as_str()]["Default"] {
                Yaml::String(s) | Yaml::Real(s) => s.clone(),
                Yaml::Integer(n) => n.to_string(),
                _ => text,
            };
            (name, value)
        })
        .collect()
}

/// The variables each function's `Config::read` asks for, given `set`.
fn read_by(binary: &str, set: &BTreeMap<String, String>) -> Result<Vec<Variable>, ConfigError> {
    let env = Env::new(|name| set.get(name).cloned());
    match binary {
        "churn-ingest" => churn_ingest::Config::read(&env).map(drop),
        "churn-train" => churn_train::Config::read(&env).map(drop),
        "churn-monitor" => churn_monitor::Config::read(&env).map(drop),
        "churn-batch-predict" => churn_batch_predict::Config::read(&env).map(drop),
        "churn-crm-push" => churn_crm_push::Config::read(&env).map(drop),
        "churn-score-api" => churn_score_api::Config::read(&env).map(drop),
        other => panic!("{other}: a function the template deploys that this test does not know"),
    }?;
    let mut read = env.variables();
    read.extend(churn_app::LOGGING_VARIABLES.iter().map(|name| Variable {
        name,
        default: Some("(tracing's default filter)".into()),
    }));
    Ok(read)
}

#[test]
fn the_template_sets_what_each_function_reads_and_nothing_else() {
    let template = template();
    let parameters = &template["Parameters"];
    let globals = variables(&template["Globals"]["Function"]["Environment"], parameters);
    let mut deployed = BTreeSet::new();
    for (name, resource) in template["Resources"].as_hash().expect("resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().expect("name");
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no Metadata.BuildProperties.Binary"));
        deployed.insert(binary.to_owned());
        let mut set = globals.clone();
        set.extend(variables(
            &resource["Properties"]["Environment"],
            parameters,
        ));
        let read = read_by(binary, &set)
            .unwrap_or_else(|e| panic!("{binary} refuses what the template sets: {e}"));
        let names: BTreeSet<&str> = read.iter().map(|v| v.name).collect();
        let unread: Vec<&String> = set.keys().filter(|k| !names.contains(k.as_str())).collect();
        assert!(
            unread.is_empty(),
            "{name} ({binary}): the template sets {unread:?}, which the function never reads"
        );
        let unset: Vec<&str> = read
            .iter()
            .filter(|v| !set.contains_key(v.name) && v.default.is_none())
            .map(|v| v.name)
            .collect();
        assert!(
            unset.is_empty(),
            "{name} ({binary}): the function needs {unset:?}, which the template never sets"
        );
    }
    // Every function of the workspace is deployed.
    let functions: BTreeSet<String> = std::fs::read_dir(format!(
        "{}/../functions",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    ))
    .expect("functions/")
    .map(|entry| {
        entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned()
    })
    .collect();
    assert_eq!(deployed, functions);
}

/// A function whose setting is missing is refused at start-up, naming the variable.
#[test]
fn a_function_without_its_bucket_does_not_start() {
    let env = Env::new(|_| None);
    let error = churn_ingest::Config::read(&env).expect_err("no bucket");
    assert_eq!(error.name, "CHURN_BUCKET");
}

/// The session gap is defined once: the template's default is the code's.
#[test]
fn the_template_session_gap_is_the_code_default() {
    let template = template();
    let default = &template["Parameters"]["SessionGapMinutes"]["Default"];
    assert_eq!(
        default.as_i64(),
        Some(i64::from(
            churn_pipeline::ingest::events::DEFAULT_SESSION_GAP_MINUTES
        )),
        "{default:?}"
    );
}

/// The label horizon is defined once: the template's default is the code's.
#[test]
fn the_template_horizon_is_the_code_default() {
    let template = template();
    let default = &template["Parameters"]["HorizonDays"]["Default"];
    assert_eq!(
        default.as_i64(),
        Some(i64::from(churn_app::dates::DEFAULT_HORIZON_DAYS)),
        "{default:?}"
    );
    // So is the promotion policy's.
    let number = |name: &str| {
        let value = &template["Parameters"][name]["Default"];
        value
            .as_f64()
            .or_else(|| value.as_i64().map(|v| v as f64))
            .unwrap_or_else(|| panic!("{name}: {value:?}"))
    };
    let policy = churn_app::train::PromotionPolicy::default();
    assert_eq!(number("PromotionMinAucGain"), policy.min_auc_gain);
    assert_eq!(
        number("PromotionCalibrationTolerance"),
        policy.calibration_tolerance
    );
    // And the retraining cool-down.
    assert_eq!(
        number("RetrainCooldownDays"),
        f64::from(churn_app::dates::DEFAULT_RETRAIN_COOLDOWN_DAYS)
    );
}
