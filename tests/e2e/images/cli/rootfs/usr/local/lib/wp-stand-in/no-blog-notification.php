<?php
// wp stand-in, `core install --skip-email`: WordPress's pluggable new-site mail, silenced (as
// wp-cli does). In the global namespace, declared before wp-admin/includes/upgrade.php loads.
if (!function_exists('wp_new_blog_notification')) {
	function wp_new_blog_notification() {
	}
}
