import groovy.json.JsonSlurper

plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.edgekit.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "dev.edgekit.demo"
        minSdk = 24
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
    }
    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
    // The interpreter memory-maps the models: they must be stored uncompressed in the APK.
    androidResources {
        noCompress += "tflite"
    }
}

dependencies {
    val camerax = "1.3.4"
    implementation("androidx.camera:camera-core:$camerax")
    implementation("androidx.camera:camera-camera2:$camerax")
    implementation("androidx.camera:camera-lifecycle:$camerax")
    implementation("androidx.camera:camera-view:$camerax")
    implementation("com.google.ai.edge.litert:litert:1.4.1") // LiteRT Interpreter API (org.tensorflow.lite.*)
    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.core:core-ktx:1.13.1")
}

// The .tflite files are not committed: `python android_demo/export_assets.py` copies them into
// src/main/assets/ next to model_config.json. Fail early with that hint instead of at run time.
val checkModelAssets by tasks.registering {
    val assets = file("src/main/assets")
    doLast {
        @Suppress("UNCHECKED_CAST")
        val config = JsonSlurper().parse(assets.resolve("model_config.json")) as Map<String, Map<String, Any>>
        val missing = listOf("detector", "emotion").map { config.getValue(it)["file"] as String }
            .filterNot { assets.resolve(it).isFile }
        if (missing.isNotEmpty()) {
            throw GradleException("missing model assets $missing: run `python android_demo/export_assets.py` from the repository root")
        }
    }
}
tasks.named("preBuild") { dependsOn(checkModelAssets) }
