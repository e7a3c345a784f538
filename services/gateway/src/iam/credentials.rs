//! (being written)

use tessera_store::Store;

use crate::context::{Cx, Result};

pub(super) const ACTIONS: &[&str] = &[];

pub(super) async fn dispatch<S: Store>(cx: &Cx<'_, S>) -> Option<Result<String>> {
    let _ = cx;
    None
}
